namespace HardPair.ML.Objectives;

/// <summary>The objectives by name, as the trainer, the commands and the benchmarks choose them.</summary>
public static class TrainingObjectives
{
    public const string Standard = "standard";
    public const string PgdAt = "pgd-at";
    public const string Trades = "trades";
    public const string Spat = "spat";
    public const string HardPair = "hardpair";

    public static IReadOnlyList<string> Names { get; } = [Standard, PgdAt, Trades, Spat, HardPair];

    public static ITrainingObjective Create(string name, ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return name switch
        {
            Standard => new StandardObjective(options),
            PgdAt => new PgdAtObjective(options),
            Trades => ConsistencyObjective.Trades(options),
            Spat => ConsistencyObjective.Spat(options),
            HardPair => new HardPairObjective(options),
            _ => throw new ArgumentException($"Unknown training method '{name}': expected one of {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
