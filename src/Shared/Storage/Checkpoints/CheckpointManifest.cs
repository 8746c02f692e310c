namespace HardPair.Storage.Checkpoints;

/// <summary>
/// <c>manifest.json</c>: everything a reader needs to verify and use <c>model.bin</c>, and
/// everything an operator needs to judge it. The store fills in <see cref="Version"/>,
/// <see cref="CreatedAt"/> and the weight digest when it publishes.
/// </summary>
public sealed record CheckpointManifest
{
    /// <summary>
    /// 2: robust accuracy means the per-example worst case of an attack suite
    /// (<see cref="MetricsRecord.RobustSummary"/>), and every number says on how many images it was
    /// measured. Version 1 (single attacks, one image count) is still read: see <see cref="AsCurrentSchema"/>.
    /// </summary>
    public const int CurrentSchemaVersion = 2;

    /// <summary>The oldest schema version readers accept.</summary>
    public const int OldestSchemaVersion = 1;

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
    /// h(i, j) = (A[i, j] + A[j, i]) / 2 over the adversarial confusion matrix A (docs/SPAT.md);
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

    /// <summary>
    /// This manifest as the current schema describes it, for display and comparison. A version-1
    /// manifest measured single attacks only: its clean count is its one image count, and its
    /// summary is its lowest single attack, labelled with that attack's name (never with a suite's).
    /// The stored bytes (and so the signature) are untouched.
    /// </summary>
    public CheckpointManifest AsCurrentSchema()
    {
        if (SchemaVersion >= 2)
        {
            return this;
        }

        var lowest = Metrics.Robust.MinBy(r => r.Accuracy);
        return this with
        {
            Metrics = Metrics with
            {
                CleanExamples = Metrics.EvaluatedExamples,
                Robust = [.. Metrics.Robust.Select(r => r.Examples > 0 ? r : r with { Examples = Metrics.EvaluatedExamples })],
                RobustSummary = lowest is null ? null : RobustSummary.Of(lowest.Attack, lowest.Epsilon, lowest.Accuracy, Metrics.EvaluatedExamples),
            },
        };
    }
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

    /// <summary>Test images clean accuracy was measured on (schema 2; version 1 had one count for everything).</summary>
    public int CleanExamples { get; init; }

    /// <summary>Test images the attacks ran on (the first ones of the test split).</summary>
    public int EvaluatedExamples { get; init; }

    public List<RobustAccuracy> Robust { get; init; } = [];

    /// <summary>
    /// What every headline calls robust accuracy (schema 2): the full suite's per-example worst
    /// case when it ran (<c>autoattack</c>), else the suite the gate ran; see <see cref="CheckpointManifest.AsCurrentSchema"/> for version 1.
    /// </summary>
    public RobustSummary? RobustSummary { get; init; }

    /// <summary>Share of adversarial errors that land on the true class's hard partner.</summary>
    public double? HardPairShare { get; init; }

    /// <summary>The attack whose adversarial confusion gave <see cref="CheckpointManifest.PairHardness"/>, or <c>clean</c>.</summary>
    public string? PairHardnessSource { get; init; }

    /// <summary>Per class: clean accuracy, accuracy under <see cref="RobustSummary"/>'s attack, the hard partner (empty before they were recorded).</summary>
    public List<ClassMetrics> Classes { get; init; } = [];
}

/// <summary>One class's clean accuracy, its accuracy under the headline attack (null without one) and its hard partner.</summary>
public sealed record ClassMetrics(string Name, double CleanAccuracy, double? RobustAccuracy, string HardPartner);

/// <summary>Accuracy under one attack or suite, with the attack's parameters (0 steps for a suite) and the images it ran on.</summary>
public sealed record RobustAccuracy(string Attack, double Epsilon, int Steps, double StepSize, double Accuracy)
{
    public int Examples { get; init; }
}

/// <summary>
/// The robust accuracy headlines show: which attack or suite made it, at which ε, on how many
/// images, and whether it is a suite's per-example worst case.
/// </summary>
public sealed record RobustSummary(string Attack, double Epsilon, double Accuracy, int Examples, bool WorstCase)
{
    public static RobustSummary Of(string attack, double epsilon, double accuracy, int examples) =>
        new(attack, epsilon, accuracy, examples, AttackNames.IsSuite(attack));
}

/// <summary>Expected calibration error before and after temperature scaling.</summary>
public sealed record CalibrationRecord(double EceBefore, double EceAfter, int Bins);
