using System.Globalization;
using HardPair.Storage.Checkpoints;

namespace HardPair.ML.Attacks;

/// <summary>
/// Evaluation attacks by the names reports and command lines use:
/// <list type="bullet">
/// <item><c>fgsm</c>; <c>pgdK</c> (PGD-K on cross-entropy, random start, step ε/10); <c>cw</c> (CW-∞: the margin loss with 30 PGD steps of ε/10);</item>
/// <item><c>apgd-ce</c> (also <c>apgd</c>) and <c>apgd-dlr</c>, 100 iterations, or K with <c>apgd-ceK</c> / <c>apgdK</c> / <c>apgd-dlrK</c>;</item>
/// <item><c>apgd-t</c>: APGD on the targeted DLR loss over the 9 most likely wrong classes, 100 iterations each; <c>apgd-tN</c> for N targets, <c>…xK</c> for K iterations;</item>
/// <item><c>square</c>: Square Attack with 5 000 queries, <c>squareQ</c> for Q;</item>
/// <item>suites, each attack run only on the points the earlier ones left standing, scored per example by the worst case:
/// <c>autoattack</c> (= <c>apgd-ce+apgd-t+square</c>), the gate's cheaper <c>apgd-ce+apgd-t3</c>, or any list of the names above joined by <c>+</c>.</item>
/// </list>
/// </summary>
public static class AttackCatalog
{
    public const string Clean = AttackNames.Clean;
    public const int ApgdDefaultSteps = 100;
    public const int ApgdTargets = 9;
    public const int SquareDefaultQueries = 5000;
    public const int CwSteps = 30;

    /// <summary>The full suite whose per-example worst case every headline calls "robust accuracy".</summary>
    public const string AutoAttack = AttackNames.AutoAttack;

    /// <summary>The gate's proxy for <see cref="AutoAttack"/>: APGD-CE, then APGD-T over the 3 most likely targets (docs/TRAINER.md gives its gap).</summary>
    public const string GateSuite = AttackNames.GateSuite;

    /// <summary>The evaluation protocol's default list: clean, three single attacks for reference, and the full suite.</summary>
    public static IReadOnlyList<string> DefaultEvaluation { get; } = [Clean, "pgd20", "cw", "apgd-ce", AutoAttack];

    /// <summary>True for every name <see cref="Create"/> accepts, and for <c>clean</c>; touches no tensors.</summary>
    public static bool IsKnown(string name) => name == Clean || Parts(name) is { } parts && parts.All(p => Parse(p) is not null);

    /// <summary>True when <paramref name="name"/> is a suite (scored by the per-example worst case of several attacks).</summary>
    public static bool IsSuite(string name) => AttackNames.IsSuite(name);

    /// <summary>
    /// The attack called <paramref name="name"/>; throws for an unknown name. A suite's attacks
    /// share its seed: their random choices are keyed by the example, so each makes, on every point
    /// it attacks, the same choices as when run alone.
    /// </summary>
    public static IAttack Create(string name, double epsilon, double logitScale, long seed)
    {
        if (!IsKnown(name) || name == Clean)
        {
            throw new ArgumentException(
                $"unknown attack '{name}' (expected fgsm, pgdK, cw, apgd-ce[K], apgd-dlr[K], apgd-t[N][xK], square[Q], autoattack, or names joined by +)",
                nameof(name));
        }

        var parts = Parts(name)!;
        if (parts.Count == 1)
        {
            return CreateSingle(parts[0], epsilon, logitScale, seed);
        }

        return new AttackSuite(name, [.. parts.Select(p => CreateSingle(p, epsilon, logitScale, seed))]);
    }

    private static IAttack CreateSingle(string name, double epsilon, double logitScale, long seed)
    {
        var stepSize = epsilon / 10;
        return Parse(name) switch
        {
            (Kind.Fgsm, _, _) => new Fgsm(epsilon, logitScale),
            (Kind.Cw, var steps, _) => new Pgd(epsilon, steps, stepSize, logitScale, AttackLoss.Margin, seed),
            (Kind.Pgd, var steps, _) => new Pgd(epsilon, steps, stepSize, logitScale, AttackLoss.CrossEntropy, seed),
            (Kind.ApgdCe, var steps, _) => new Apgd(epsilon, steps, logitScale, seed),
            (Kind.ApgdDlr, var steps, _) => new Apgd(epsilon, steps, logitScale, seed, AttackLoss.Dlr),
            (Kind.ApgdT, var steps, var targets) => new ApgdTargeted(epsilon, targets, steps, seed),
            (Kind.Square, var queries, _) => new Square(epsilon, queries, seed),
            _ => throw new ArgumentException($"unknown attack '{name}'", nameof(name)),
        };
    }

    /// <summary>The attacks a suite is the worst case of (<c>autoattack</c> expanded), or the one attack; empty for an unknown name.</summary>
    public static IReadOnlyList<string> PartsOf(string name) => AttackNames.PartsOf(name);

    private static IReadOnlyList<string>? Parts(string name) => AttackNames.Split(name);

    private enum Kind
    {
        Fgsm,
        Cw,
        Pgd,
        ApgdCe,
        ApgdDlr,
        ApgdT,
        Square,
    }

    private static (Kind Kind, int Steps, int Targets)? Parse(string name) => name switch
    {
        "fgsm" => (Kind.Fgsm, 1, 0),
        "cw" => (Kind.Cw, CwSteps, 0),
        "apgd" or "apgd-ce" => (Kind.ApgdCe, ApgdDefaultSteps, 0),
        "apgd-dlr" => (Kind.ApgdDlr, ApgdDefaultSteps, 0),
        "square" => (Kind.Square, SquareDefaultQueries, 0),
        _ when name.StartsWith("apgd-t", StringComparison.Ordinal) => Targeted(name["apgd-t".Length..]),
        _ when Count(name, "apgd-dlr") is int steps and >= 2 => (Kind.ApgdDlr, steps, 0),
        _ when Count(name, "apgd-ce") is int steps and >= 2 => (Kind.ApgdCe, steps, 0),
        _ when Count(name, "apgd") is int steps and >= 2 => (Kind.ApgdCe, steps, 0),
        _ when Count(name, "square") is { } queries => (Kind.Square, queries, 0),
        _ when Count(name, "pgd") is { } steps => (Kind.Pgd, steps, 0),
        _ => null,
    };

    /// <summary>"" | N | xK | NxK after <c>apgd-t</c>.</summary>
    private static (Kind, int, int)? Targeted(string rest)
    {
        var split = rest.Split('x');
        if (split.Length > 2)
        {
            return null;
        }

        int? targets = split[0].Length == 0 ? ApgdTargets : Count(split[0], "");
        int? steps = split.Length == 1 ? ApgdDefaultSteps : Count(split[1], "");
        return targets is >= 1 and <= 1000 && steps is >= 2 ? (Kind.ApgdT, steps.Value, targets.Value) : null;
    }

    private static int? Count(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal)
        && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
        && count is >= 1 and <= 100_000
            ? count
            : null;
}
