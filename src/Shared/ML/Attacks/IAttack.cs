using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// An L∞ evasion attack. Returns detached adversarial images inside the ε-ball around the
/// input and inside [0, 1]. Never changes the model's parameters, gradients or mode as the
/// caller sees them, is deterministic for its seed, and checks the token between steps.
/// </summary>
public interface IAttack
{
    /// <summary>The name reports use: fgsm, pgd20, cw, apgd-ce, apgd-t, square, autoattack, …</summary>
    string Name { get; }

    double Epsilon { get; }

    /// <summary>Gradient steps (per target for APGD-T), queries for Square, 0 for a suite.</summary>
    int Steps { get; }

    double StepSize { get; }

    Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default);
}
