namespace HardPair.Storage.Checkpoints;

/// <summary>
/// The attack and suite names a manifest records, and what a suite's name means: which attacks
/// its per-example worst case is taken over. The attacks themselves are the ML core's
/// (<c>HardPair.ML.Attacks.AttackCatalog</c>, which accepts exactly these names).
/// </summary>
public static class AttackNames
{
    public const string Clean = "clean";

    /// <summary>The full suite whose per-example worst case every headline calls "robust accuracy".</summary>
    public const string AutoAttack = "autoattack";

    /// <summary>The gate's proxy for <see cref="AutoAttack"/>: APGD-CE, then APGD-T over the 3 most likely targets (docs/TRAINER.md gives its gap).</summary>
    public const string GateSuite = "apgd-ce+apgd-t3";

    /// <summary>What <see cref="AutoAttack"/> stands for.</summary>
    public const string AutoAttackParts = "apgd-ce+apgd-t+square";

    /// <summary>True when <paramref name="name"/> is a suite (scored by the per-example worst case of several attacks).</summary>
    public static bool IsSuite(string name) => Split(name) is { Count: > 1 };

    /// <summary>The attacks a suite is the worst case of (<c>autoattack</c> expanded), or the one attack; empty for a malformed name.</summary>
    public static IReadOnlyList<string> PartsOf(string name) => Split(name) ?? [];

    /// <summary>The names joined by <c>+</c> (<c>autoattack</c> expanded); null when one is empty or is <c>autoattack</c> itself.</summary>
    public static IReadOnlyList<string>? Split(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var expanded = name == AutoAttack ? AutoAttackParts : name;
        var parts = expanded.Split('+');
        return parts.Any(string.IsNullOrEmpty) || parts.Contains(AutoAttack) ? null : parts;
    }
}
