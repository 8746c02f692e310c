using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// APGD (Croce &amp; Hein 2020) on cross-entropy (APGD-CE) or on the untargeted DLR loss
/// (APGD-DLR): PGD with momentum 0.75 and a per-example step size that starts at 2ε and is halved
/// at checkpoints when progress stalls (too few loss increases since the last checkpoint, or no
/// new best loss and no halving there), restarting from the best point. Returns, per example, the
/// first iterate that fools the model, else the highest-loss point.
/// </summary>
public sealed class Apgd : IAttack
{
    private const double Momentum = 0.75;
    private const double Rho = 0.75;

    private readonly double logitScale;
    private readonly AttackLoss loss;
    private readonly long seed;

    public Apgd(double epsilon, int steps, double logitScale, long seed, AttackLoss loss = AttackLoss.CrossEntropy)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epsilon);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 2);
        if (loss == AttackLoss.Margin)
        {
            throw new ArgumentException("APGD runs on cross-entropy or DLR; the CW margin is the cw attack", nameof(loss));
        }

        Epsilon = epsilon;
        Steps = steps;
        this.logitScale = logitScale;
        this.loss = loss;
        this.seed = seed;
    }

    /// <summary><c>apgd-ce</c> or <c>apgd-dlr</c>, followed by the step count when it is not the standard 100.</summary>
    public string Name => (loss == AttackLoss.Dlr ? "apgd-dlr" : "apgd-ce")
        + (Steps == AttackCatalog.ApgdDefaultSteps ? "" : Steps.ToString(CultureInfo.InvariantCulture));

    public double Epsilon { get; }

    public int Steps { get; }

    /// <summary>The initial step size, 2ε.</summary>
    public double StepSize => 2 * Epsilon;

    /// <summary>Iterations at which the step size may be halved: p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06).</summary>
    public static HashSet<int> Checkpoints(int steps)
    {
        var fractions = new List<double> { 0, 0.22 };
        while (fractions[^1] < 1)
        {
            fractions.Add(fractions[^1] + Math.Max(fractions[^1] - fractions[^2] - 0.03, 0.06));
        }

        return [.. fractions.Skip(1).Select(p => (int)Math.Ceiling((p * steps) - 1e-9)).Where(w => w > 0 && w < steps)];
    }

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        using var mode = new EvalModeScope(model);
        Func<Tensor, Tensor> objective = loss == AttackLoss.Dlr
            ? z => DlrLoss.Untargeted(z, labels)
            : z => AttackMath.PerExampleLoss(AttackLoss.CrossEntropy, z, labels, logitScale);
        return Search(model, images, labels, objective, Epsilon, Steps, ExampleRandom.Keys(images, seed), 0, cancellationToken);
    }

    /// <summary>
    /// One APGD run from a uniform random start (drawn from each example's key and
    /// <paramref name="stream"/>), climbing <paramref name="objective"/> (logits → per-example
    /// loss); success means the prediction differs from <paramref name="labels"/>. Every example's
    /// path depends on that example alone. The model must already be in eval mode.
    /// </summary>
    internal static Tensor Search(
        nn.Module<Tensor, Tensor> model,
        Tensor images,
        Tensor labels,
        Func<Tensor, Tensor> objective,
        double epsilon,
        int steps,
        ulong[] keys,
        ulong stream,
        CancellationToken cancellationToken)
    {
        using var scope = torch.NewDisposeScope();
        var checkpoints = Checkpoints(steps);
        var batch = images.shape[0];
        var stepSize = torch.full([batch, 1, 1, 1], 2 * epsilon, dtype: images.dtype, device: images.device);
        var x = ExampleRandom.RandomStart(images, epsilon, keys, stream);
        var (logits, current, gradient) = AttackMath.Evaluate(model, x, objective);
        var fooled = logits.argmax(1).ne(labels);
        var fooledAt = x;
        var best = x;
        var bestLoss = current;
        var bestGradient = gradient;
        var previous = x;

        var increases = torch.zeros(batch, device: images.device);
        var bestLossAtCheckpoint = bestLoss;
        var halvedAtCheckpoint = torch.ones(batch, dtype: ScalarType.Bool, device: images.device);
        var lastCheckpoint = 0;

        for (var step = 0; step < steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var z = AttackMath.Project(x.add(gradient.sign().mul(stepSize)), images, epsilon);
            var next = step == 0
                ? z
                : AttackMath.Project(x.add(z.sub(x).mul(Momentum)).add(x.sub(previous).mul(1 - Momentum)), images, epsilon);

            var (nextLogits, nextLoss, nextGradient) = AttackMath.Evaluate(model, next, objective);
            var newlyFooled = nextLogits.argmax(1).ne(labels).logical_and(fooled.logical_not());
            fooledAt = AttackMath.Select(newlyFooled, next, fooledAt);
            fooled = fooled.logical_or(newlyFooled);

            increases = increases.add(nextLoss.gt(current).to(increases.dtype));
            var improved = nextLoss.gt(bestLoss);
            best = AttackMath.Select(improved, next, best);
            bestGradient = AttackMath.Select(improved, nextGradient, bestGradient);
            bestLoss = torch.where(improved, nextLoss, bestLoss);

            previous = x;
            x = next;
            current = nextLoss;
            gradient = nextGradient;

            if (checkpoints.Contains(step + 1))
            {
                var window = step + 1 - lastCheckpoint;
                var tooFewIncreases = increases.lt(Rho * window);
                var stalled = halvedAtCheckpoint.logical_not().logical_and(bestLossAtCheckpoint.ge(bestLoss));
                var halve = tooFewIncreases.logical_or(stalled);

                stepSize = AttackMath.Select(halve, stepSize.div(2), stepSize);
                x = AttackMath.Select(halve, best, x);
                gradient = AttackMath.Select(halve, bestGradient, gradient);

                halvedAtCheckpoint = halve;
                bestLossAtCheckpoint = bestLoss;
                increases = torch.zeros(batch, device: images.device);
                lastCheckpoint = step + 1;
            }
        }

        return AttackMath.Select(fooled, fooledAt, best).detach().MoveToOuterDisposeScope();
    }
}
