using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>Fast gradient sign method: one step of size ε on the cross-entropy of s·z.</summary>
public sealed class Fgsm(double epsilon, double logitScale) : IAttack
{
    public string Name => "fgsm";

    public double Epsilon { get; } = epsilon;

    public int Steps => 1;

    public double StepSize => Epsilon;

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        var gradient = AttackMath.InputGradient(model, images, logits => nn.functional.cross_entropy(logits.mul(logitScale), labels));
        return AttackMath.Project(images.add(gradient.sign().mul(Epsilon)), images, Epsilon).MoveToOuterDisposeScope();
    }
}
