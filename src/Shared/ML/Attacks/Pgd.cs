using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// Projected gradient ascent with sign steps from a uniform random start in the ε-ball, on
/// cross-entropy (PGD-k) or the CW margin (CW-∞). Keeps, per example, the first iterate that
/// fools the model, so a later step cannot undo a success.
/// </summary>
public sealed class Pgd : IAttack
{
    private readonly Func<Tensor, Tensor, Tensor> perExampleLoss;
    private readonly Generator generator;

    public Pgd(double epsilon, int steps, double stepSize, double logitScale, AttackLoss loss, long seed)
        : this(epsilon, steps, stepSize, (logits, labels) => AttackMath.PerExampleLoss(loss, logits, labels, logitScale), seed)
    {
        Name = loss == AttackLoss.Margin ? "cw" : $"pgd{Steps}";
    }

    /// <summary>PGD climbing a loss of one's own: (logits, labels) → one value per example.</summary>
    public Pgd(double epsilon, int steps, double stepSize, Func<Tensor, Tensor, Tensor> perExampleLoss, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epsilon);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        ArgumentNullException.ThrowIfNull(perExampleLoss);
        Epsilon = epsilon;
        Steps = steps;
        StepSize = stepSize;
        this.perExampleLoss = perExampleLoss;
        generator = new Generator((ulong)seed);
        Name = $"pgd{steps}";
    }

    public string Name { get; }

    public double Epsilon { get; }

    public int Steps { get; }

    public double StepSize { get; }

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        var x = AttackMath.RandomStart(images, Epsilon, generator);
        var best = x;
        var fooled = torch.zeros(images.shape[0], dtype: ScalarType.Bool, device: images.device);
        for (var step = 0; step < Steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (logits, _, gradient) = AttackMath.Evaluate(model, x, z => perExampleLoss(z, labels));
            (best, fooled) = Remember(x, logits, labels, best, fooled);
            x = AttackMath.Project(x.add(gradient.sign().mul(StepSize)), images, Epsilon);
        }

        using (torch.no_grad())
        {
            (best, fooled) = Remember(x, model.forward(x), labels, best, fooled);
        }

        // Examples never fooled end at the last iterate.
        return AttackMath.Select(fooled, best, x).detach().MoveToOuterDisposeScope();
    }

    private static (Tensor Best, Tensor Fooled) Remember(Tensor x, Tensor logits, Tensor labels, Tensor best, Tensor fooled)
    {
        var newlyFooled = logits.argmax(1).ne(labels).logical_and(fooled.logical_not());
        return (AttackMath.Select(newlyFooled, x, best), fooled.logical_or(newlyFooled));
    }
}
