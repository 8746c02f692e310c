namespace HardPair.Shared.Checkpoints;

/// <summary>
/// <c>manifest.json</c>: everything a reader needs to verify and use <c>model.bin</c>, and
/// everything an operator needs to judge it. The store fills in <see cref="Version"/>,
/// <see cref="CreatedAt"/> and the weight digest when it publishes.
/// </summary>
public sealed record CheckpointManifest
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;

    public string Version { get; init; } = "";

    public string? ParentVersion { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public required string Architecture { get; init; }

    /// <summary><c>cosine</c> or <c>linear</c>.</summary>
    public required string Head { get; init; }

    /// <summary>Channels, height, width.</summary>
    public required int[] InputShape { get; init; }

    public required string[] ClassNames { get; init; }

    public required TrainingRecord Training { get; init; }

    public required DatasetRecord Dataset { get; init; }

    public required MetricsRecord Metrics { get; init; }

    /// <summary>
    /// h(i, j) = (A[i, j] + A[j, i]) / 2 over the adversarial confusion matrix A (SPAT.md);
    /// classes × classes, zero on the diagonal.
    /// </summary>
    public required double[][] PairHardness { get; init; }

    /// <summary>
    /// Softmax temperature T for the network's raw outputs z (served probabilities are
    /// softmax(z / T)), fitted on held-out data; 1 when uncalibrated.
    /// </summary>
    public double CalibrationTemperature { get; init; } = 1.0;

    public CalibrationRecord? Calibration { get; init; }

    public string WeightsSha256 { get; init; } = "";

    public long WeightsBytes { get; init; }
}

/// <summary>How the weights were trained.</summary>
public sealed record TrainingRecord
{
    /// <summary><c>standard</c>, <c>pgd-at</c>, <c>trades</c>, <c>spat</c>, or <c>none</c> for an untrained network.</summary>
    public required string Method { get; init; }

    public Dictionary<string, double> HyperParameters { get; init; } = [];

    public double Epochs { get; init; }

    public int Seed { get; init; }

    public string Device { get; init; } = "cpu";

    /// <summary>The trainer run that produced the weights; lets a restarted trainer see that its publish landed.</summary>
    public string? RunId { get; init; }
}

/// <summary>What the weights were trained on.</summary>
public sealed record DatasetRecord
{
    public required string Name { get; init; }

    public int TrainExamples { get; init; }

    public int ValidationExamples { get; init; }

    public int FeedbackExamples { get; init; }
}

/// <summary>Measured quality on held-out data.</summary>
public sealed record MetricsRecord
{
    public double CleanAccuracy { get; init; }

    public int EvaluatedExamples { get; init; }

    public List<RobustAccuracy> Robust { get; init; } = [];

    /// <summary>Share of adversarial errors that land on the true class's hard partner.</summary>
    public double? HardPairShare { get; init; }

    /// <summary>The attack whose adversarial confusion gave <see cref="CheckpointManifest.PairHardness"/>, or <c>clean</c>.</summary>
    public string? PairHardnessSource { get; init; }
}

/// <summary>Accuracy under one attack, with the attack's parameters.</summary>
public sealed record RobustAccuracy(string Attack, double Epsilon, int Steps, double StepSize, double Accuracy);

/// <summary>Expected calibration error before and after temperature scaling.</summary>
public sealed record CalibrationRecord(double EceBefore, double EceAfter, int Bins);
