using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// Several attacks run in order, each only on the points the earlier ones left standing, as
/// AutoAttack runs them; the result is the per-example worst case: a point counts as robust only
/// if every attack failed on it, and its adversarial example is the one that broke it. Its
/// accuracy is therefore never above that of any of its attacks run alone on the same points.
/// <see cref="Stages"/> adds up, over every batch perturbed, what each attack attacked, broke and
/// cost.
/// </summary>
public sealed class AttackSuite : IAttack
{
    private readonly IReadOnlyList<IAttack> attacks;
    private readonly SuiteStage[] stages;

    public AttackSuite(string name, IReadOnlyList<IAttack> attacks)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(attacks);
        if (attacks.Count == 0)
        {
            throw new ArgumentException("a suite needs at least one attack", nameof(attacks));
        }

        if (attacks.Select(a => a.Epsilon).Distinct().Count() > 1)
        {
            throw new ArgumentException("a suite's attacks share one ε", nameof(attacks));
        }

        Name = name;
        this.attacks = attacks;
        stages = [.. attacks.Select(a => new SuiteStage(a.Name))];
    }

    public string Name { get; }

    public double Epsilon => attacks[0].Epsilon;

    /// <summary>0: a suite has no single step count (its attacks' are in their names).</summary>
    public int Steps => 0;

    public double StepSize => 0;

    public IReadOnlyList<IAttack> Attacks => attacks;

    /// <summary>Per attack, in order: points attacked and broken, and wall time, summed over the batches so far.</summary>
    public IReadOnlyList<SuiteStage> Stages => stages;

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        var worst = new WorstCase(model, images, labels);
        for (var i = 0; i < attacks.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var attack = attacks[i];
            var (attacked, broken) = worst.AttackStanding((x, y, _) => attack.Perturb(model, x, y, cancellationToken));
            stages[i] = stages[i] with
            {
                Attacked = stages[i].Attacked + attacked,
                Broken = stages[i].Broken + broken,
                Seconds = stages[i].Seconds + clock.Elapsed.TotalSeconds,
            };
        }

        return worst.Examples.MoveToOuterDisposeScope();
    }
}

/// <summary>What one attack of a suite did: points it ran on, points it broke, its wall time.</summary>
public sealed record SuiteStage(string Attack, long Attacked = 0, long Broken = 0, double Seconds = 0);
