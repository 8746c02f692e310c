using HardPair.ML.Attacks;
using HardPair.Storage.Checkpoints;

namespace HardPair.ML.Evaluation;

/// <summary>
/// Everything one evaluation measured: clean and robust accuracy, the hard-pair statistics
/// (docs/SPAT.md) from the headline attack's confusion, and temperature scaling with ECE before
/// and after (measured on the test data, fitted on the validation data).
/// </summary>
public sealed record EvaluationReport
{
    public required IReadOnlyList<string> ClassNames { get; init; }

    public required AttackResult Clean { get; init; }

    public required IReadOnlyList<AttackResult> Robust { get; init; }

    /// <summary>The attack whose confusion gives the pair hardness (the headline when one was measured), or <c>clean</c>.</summary>
    public required string PairHardnessSource { get; init; }

    public required HardPairStatistics HardPairs { get; init; }

    /// <summary>Softmax temperature for the model's raw outputs z: p = softmax(z / T).</summary>
    public required double Temperature { get; init; }

    /// <summary>ECE of softmax(s·z), the probabilities as trained.</summary>
    public required double EceBefore { get; init; }

    /// <summary>ECE of softmax(z / T).</summary>
    public required double EceAfter { get; init; }

    public required int CalibrationBins { get; init; }

    public required int ValidationExamples { get; init; }

    /// <summary>Images clean accuracy and calibration were measured on.</summary>
    public int TestExamples => (int)Clean.Total;

    /// <summary>Images the attacks ran on (the first of the test images); 0 without an attack.</summary>
    public int RobustExamples => Robust.Count == 0 ? 0 : (int)Robust[0].Total;

    /// <summary>What "robust accuracy" means for this evaluation: see <see cref="HeadlineOf"/>.</summary>
    public AttackResult? Headline => HeadlineOf(Robust);

    /// <summary>The headline as the manifest and the offline summary record it.</summary>
    public RobustSummary? RobustSummary => Headline is { } h ? RobustSummary.Of(h.Attack, h.Epsilon, h.Accuracy, (int)h.Total) : null;

    /// <summary>Share of adversarial errors that land on the true class's hard partner; null without an attack.</summary>
    public double? HardPairShare => Robust.Count == 0 ? null : HardPairs.HardPairShare;

    public IReadOnlyList<ClassReport> Classes => [.. ClassNames.Select((name, i) => ClassReport.For(this, i))];

    /// <summary>
    /// The result every headline calls robust accuracy: the full suite (<c>autoattack</c>) when it
    /// ran, else another suite (the gate's proxy), else the lowest of the single attacks, so a
    /// weak attack never stands for the model when a stronger one was measured.
    /// </summary>
    public static AttackResult? HeadlineOf(IReadOnlyList<AttackResult> robust)
    {
        ArgumentNullException.ThrowIfNull(robust);
        return robust.FirstOrDefault(r => r.Attack == AttackCatalog.AutoAttack)
            ?? robust.Where(r => r.IsSuite).MinBy(r => r.Accuracy)
            ?? robust.MinBy(r => r.Accuracy);
    }

    /// <summary><paramref name="draft"/> with this evaluation as its metrics, pair hardness and calibration.</summary>
    public CheckpointManifest ApplyTo(CheckpointManifest draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        return draft with
        {
            Metrics = new MetricsRecord
            {
                CleanAccuracy = Clean.Accuracy,
                CleanExamples = TestExamples,
                EvaluatedExamples = RobustExamples,
                Robust = [.. Robust.Select(r => new RobustAccuracy(r.Attack, r.Epsilon, r.Steps, r.StepSize, r.Accuracy) { Examples = (int)r.Total })],
                RobustSummary = RobustSummary,
                HardPairShare = HardPairShare,
                PairHardnessSource = PairHardnessSource,
                Classes = [.. Classes.Select(c => new ClassMetrics(
                    c.Name,
                    c.CleanAccuracy,
                    Headline is { } headline ? c.RobustAccuracy[headline.Attack] : null,
                    c.HardPartner))],
            },
            PairHardness = HardPairs.PairHardness,
            CalibrationTemperature = Temperature,
            Calibration = new CalibrationRecord(EceBefore, EceAfter, CalibrationBins),
            Dataset = draft.Dataset with { ValidationExamples = ValidationExamples },
        };
    }
}

/// <summary>One class's line of the evaluation table.</summary>
public sealed record ClassReport(string Name, double CleanAccuracy, IReadOnlyDictionary<string, double> RobustAccuracy, string HardPartner, double PairHardness, double PartnerShare)
{
    internal static ClassReport For(EvaluationReport report, int label)
    {
        var partner = report.HardPairs.HardPartners[label];
        var source = report.Robust.FirstOrDefault(r => r.Attack == report.PairHardnessSource) ?? report.Clean;
        var row = source.Confusion[label];
        var errors = row.Sum() - row[label];
        return new ClassReport(
            report.ClassNames[label],
            report.Clean.ClassAccuracy(label),
            report.Robust.ToDictionary(r => r.Attack, r => r.ClassAccuracy(label), StringComparer.Ordinal),
            report.ClassNames[partner],
            report.HardPairs.PairHardness[label][partner],
            errors == 0 ? 0 : (double)row[partner] / errors);
    }
}
