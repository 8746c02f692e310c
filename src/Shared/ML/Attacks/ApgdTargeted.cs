using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// APGD-T (Croce &amp; Hein 2020): APGD on the targeted DLR loss, once per target class, the
/// most likely wrong class first (ranked by the clean logits), each run only on the points the
/// earlier targets left standing. The scale invariance of DLR is what lets it through a cosine or
/// saturated head whose cross-entropy gradient is (numerically) zero.
/// </summary>
public sealed class ApgdTargeted : IAttack
{
    private readonly long seed;

    public ApgdTargeted(double epsilon, int targets, int steps, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epsilon);
        ArgumentOutOfRangeException.ThrowIfLessThan(targets, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 2);
        Epsilon = epsilon;
        Targets = targets;
        Steps = steps;
        this.seed = seed;
    }

    /// <summary>
    /// <c>apgd-t</c> for the standard 9 targets of 100 iterations, <c>apgd-tN</c> for N targets;
    /// a step count other than 100 follows as <c>x</c>K.
    /// </summary>
    public string Name => "apgd-t"
        + (Targets == AttackCatalog.ApgdTargets ? "" : Targets.ToString(CultureInfo.InvariantCulture))
        + (Steps == AttackCatalog.ApgdDefaultSteps ? "" : "x" + Steps.ToString(CultureInfo.InvariantCulture));

    public double Epsilon { get; }

    /// <summary>How many target classes are tried, most likely first (capped at the classes less one).</summary>
    public int Targets { get; }

    /// <summary>Iterations per target.</summary>
    public int Steps { get; }

    /// <summary>The initial step size, 2ε.</summary>
    public double StepSize => 2 * Epsilon;

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        Tensor ranked;
        using (torch.no_grad())
        {
            ranked = model.forward(images).argsort(1, descending: true);
        }

        var classes = ranked.shape[1];
        var tries = (int)Math.Min(Targets, classes - 1);
        var keys = ExampleRandom.Keys(images, seed);
        var worst = new WorstCase(model, images, labels);
        for (var rank = 1; rank <= tries && worst.AnyStanding; rank++)
        {
            var target = ranked[.., rank];
            var stream = (ulong)rank;
            worst.AttackStanding((x, y, standing) =>
            {
                var t = target.index_select(0, standing);
                var standingKeys = standing.cpu().data<long>().ToArray().Select(i => keys[i]).ToArray();
                return Apgd.Search(model, x, y, z => DlrLoss.Targeted(z, y, t), Epsilon, Steps, standingKeys, stream, cancellationToken);
            });
        }

        return worst.Examples.MoveToOuterDisposeScope();
    }
}
