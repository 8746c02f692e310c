using System.Globalization;

namespace HardPair.Shared.Attacks;

/// <summary>
/// Evaluation attacks by the names reports and command lines use: <c>fgsm</c>, <c>pgdK</c>
/// (PGD-K on cross-entropy, random start, step ε/10), <c>cw</c> (CW-∞: the margin loss with
/// 30 PGD steps of ε/10), <c>apgd</c> or <c>apgdK</c> (APGD-CE, 100 iterations unless K is given).
/// </summary>
public static class AttackCatalog
{
    public const string Clean = "clean";
    public const int ApgdDefaultSteps = 100;
    public const int CwSteps = 30;

    /// <summary>The evaluation protocol's default list (SPAT.md).</summary>
    public static IReadOnlyList<string> DefaultEvaluation { get; } = [Clean, "fgsm", "pgd20", "cw", "apgd"];

    /// <summary>True for every name <see cref="Create"/> accepts, and for <c>clean</c>; touches no tensors.</summary>
    public static bool IsKnown(string name) => name == Clean || Parse(name) is not null;

    /// <summary>The attack called <paramref name="name"/>; throws for an unknown name.</summary>
    public static IAttack Create(string name, double epsilon, double logitScale, long seed)
    {
        var stepSize = epsilon / 10;
        return Parse(name) switch
        {
            ("fgsm", _) => new Fgsm(epsilon, logitScale),
            ("cw", var steps) => new Pgd(epsilon, steps, stepSize, logitScale, AttackLoss.Margin, seed),
            ("apgd", var steps) => new Apgd(epsilon, steps, logitScale, seed),
            ("pgd", var steps) => new Pgd(epsilon, steps, stepSize, logitScale, AttackLoss.CrossEntropy, seed),
            _ => throw new ArgumentException($"unknown attack '{name}' (expected fgsm, pgdK, cw, apgd or apgdK)", nameof(name)),
        };
    }

    private static (string Kind, int Steps)? Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name switch
        {
            "fgsm" => ("fgsm", 1),
            "cw" => ("cw", CwSteps),
            "apgd" => ("apgd", ApgdDefaultSteps),
            _ when Steps(name, "apgd") is { } steps && steps >= 2 => ("apgd", steps),
            _ when Steps(name, "pgd") is { } steps => ("pgd", steps),
            _ => null,
        };
    }

    private static int? Steps(string name, string prefix) =>
        name.StartsWith(prefix, StringComparison.Ordinal)
        && int.TryParse(name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var steps)
        && steps is >= 1 and <= 10_000
            ? steps
            : null;
}
