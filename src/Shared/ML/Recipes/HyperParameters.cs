namespace HardPair.ML.Recipes;

/// <summary>
/// One hyper-parameter of a training run: the name runs and manifests use, the command-line flag
/// of <c>train</c>, the accepted range, and whether it takes whole numbers only.
/// </summary>
public sealed record HyperParameter(string Name, string Flag, double Min, double Max, bool Integral = false)
{
    public bool Accepts(double value) => double.IsFinite(value) && value >= Min && value <= Max && (!Integral || value == Math.Floor(value));
}

/// <summary>
/// Every hyper-parameter a run, the sidecar's control API and the offline <c>train</c> command
/// accept, with its range and its default — the one place for both. Defaults that depend on the
/// method or the head are in <c>ObjectiveOptions.DefaultsFor</c>, built from the constants here.
/// </summary>
public static class HyperParameters
{
    // The objective's.
    public static readonly HyperParameter Epsilon = new("epsilon", "epsilon", 0, 1);
    public static readonly HyperParameter AttackSteps = new("attackSteps", "attack-steps", 1, 1000, Integral: true);
    public static readonly HyperParameter AttackStepSize = new("attackStepSize", "attack-step-size", 1e-6, 1);
    public static readonly HyperParameter Beta = new("beta", "beta", 0, 1000);
    public static readonly HyperParameter Scale = new("scale", "scale", 1e-3, 1000);
    public static readonly HyperParameter Margin = new("margin", "margin", 0, 10);
    public static readonly HyperParameter ConsistencyWeight = new("consistencyWeight", "consistency-weight", 0, 100);
    public static readonly HyperParameter DetachWeights = new("detachWeights", "detach-weights", 0, 1, Integral: true);
    public static readonly HyperParameter ClampWeights = new("clampWeights", "clamp-weights", 0, 1, Integral: true);
    public static readonly HyperParameter PartnerMargin = new("partnerMargin", "partner-margin", 0, 10);
    public static readonly HyperParameter PartnerAttackShare = new("partnerAttackShare", "partner-attack-share", 0, 1);

    // The optimizer's.
    public static readonly HyperParameter LearningRate = new("learningRate", "learning-rate", 1e-6, 10);
    public static readonly HyperParameter WeightDecay = new("weightDecay", "weight-decay", 0, 1);

    /// <summary>0 step, 1 cosine, 2 one-cycle (<c>LearningRateSchedule</c>).</summary>
    public static readonly HyperParameter Schedule = new("schedule", "schedule", 0, 2, Integral: true);
    public static readonly HyperParameter Ema = new("ema", "ema", 0, 0.99999);
    public static readonly HyperParameter BatchSize = new("batchSize", "batch-size", 1, 4096, Integral: true);
    public static readonly HyperParameter Epochs = new("epochs", "epochs", 0.01, 10_000);

    /// <summary>The seed of a run's training subset (0: derived from the sidecar's seed and the run id).</summary>
    public static readonly HyperParameter DataSeed = new("dataSeed", "data-seed", 0, int.MaxValue, Integral: true);

    public static IReadOnlyList<HyperParameter> All { get; } =
    [
        Epsilon, AttackSteps, AttackStepSize, Beta, Scale, Margin, ConsistencyWeight, DetachWeights, ClampWeights,
        PartnerMargin, PartnerAttackShare, LearningRate, WeightDecay, Schedule, Ema, BatchSize, Epochs, DataSeed,
    ];

    public static HyperParameter? Find(string name) => All.FirstOrDefault(p => p.Name == name);

    // Defaults (docs/SPAT.md for the objectives', docs/RESULTS.md for the searched recipe).
    public const double DefaultEpsilon = 0.1;
    public const int DefaultAttackSteps = 10;

    /// <summary>TRADES' and SPAT's trade-off β.</summary>
    public const double DefaultBeta = 6;

    /// <summary>hardpair's weight β′ of the consistency term.</summary>
    public const double DefaultHardPairBeta = 1;

    /// <summary>The logit scale s on the cosine head (a linear head takes 1).</summary>
    public const double DefaultCosineScale = 8;
    public const double DefaultMargin = 0.2;
    public const double DefaultConsistencyWeight = 0.2;
    public const int DefaultBatchSize = 128;

    /// <summary>The recipe the validation search chose for short budgets: one-cycle to this peak learning rate, ...</summary>
    public const double SearchedLearningRate = 0.1;

    /// <summary>... this weight decay, ...</summary>
    public const double SearchedWeightDecay = 5e-4;

    /// <summary>... and an average of the weights with this decay.</summary>
    public const double SearchedEmaDecay = 0.995;
}
