using static TorchSharp.torch;

namespace HardPair.Shared.Attacks;

/// <summary>
/// An L∞ evasion attack. Returns detached adversarial images inside the ε-ball around the
/// input and inside [0, 1]. Never changes the model's parameters, gradients or mode as the
/// caller sees them, and is deterministic for its seed.
/// </summary>
public interface IAttack
{
    /// <summary>The name reports use: fgsm, pgd20, cw, apgd, …</summary>
    string Name { get; }

    double Epsilon { get; }

    int Steps { get; }

    double StepSize { get; }

    Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels);
}
