using System.Globalization;
using System.Text.Json;
using HardPair.ML.Evaluation;
using HardPair.Storage.Checkpoints;

namespace HardPair.TrainerSidecar.Offline;

/// <summary>The JSON shape of one evaluation, shared by <c>train</c> and <c>evaluate --json</c>.</summary>
internal sealed record EvaluationSummary(
    string Checkpoint,
    string Version,
    string Architecture,
    string Method,
    int TestExamples,
    int RobustExamples,
    long Seed,
    int ValidationExamples,
    double Clean,
    long[][] CleanConfusion,
    IReadOnlyList<AttackSummary> Attacks,
    RobustSummary? Robust,
    double? HardPairShare,
    string PairHardnessSource,
    CalibrationSummary Calibration,
    IReadOnlyList<ClassReport> Classes)
{
    /// <summary>What was measured: <c>test</c>, or <c>validation</c> (the held-out part of the training split).</summary>
    public string Split { get; init; } = "test";

    /// <summary>With <c>--partners</c>: the hard-pair share against that fixed partner map, from <see cref="FixedPartnerAttack"/>'s examples.</summary>
    public double? FixedPartnerShare { get; init; }

    /// <summary>The attack whose examples <see cref="FixedPartnerShare"/> counts (APGD-CE when it ran, else the headline).</summary>
    public string? FixedPartnerAttack { get; init; }

    public int[]? FixedPartners { get; init; }

    /// <summary>This summary with the hard-pair share against <paramref name="partners"/> (nothing when null).</summary>
    public EvaluationSummary WithFixedPartners(EvaluationReport report, int[]? partners)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (partners is null || (report.Robust.FirstOrDefault(r => r.Attack == "apgd-ce") ?? report.Headline) is not { } source)
        {
            return this;
        }

        return this with { FixedPartnerShare = HardPairStatistics.ShareOn(source.Confusion, partners), FixedPartnerAttack = source.Attack, FixedPartners = partners };
    }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static EvaluationSummary From(string folder, CheckpointManifest manifest, EvaluationReport report, long seed = 0) => new(
        folder,
        manifest.Version,
        manifest.Architecture,
        manifest.Training.Method,
        report.TestExamples,
        report.RobustExamples,
        seed,
        report.ValidationExamples,
        report.Clean.Accuracy,
        report.Clean.Confusion,
        [.. report.Robust.Select(r => new AttackSummary(r.Attack, r.Epsilon, r.Steps, r.StepSize, r.Accuracy, r.Seconds, r.Confusion) { Examples = (int)r.Total, Stages = r.Stages })],
        report.RobustSummary,
        report.HardPairShare,
        report.PairHardnessSource,
        new CalibrationSummary(report.Temperature, report.EceBefore, report.EceAfter, report.CalibrationBins),
        report.Classes);

    /// <summary>A table for people: one line per attack, then one per class.</summary>
    public void WriteTable(TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"checkpoint {Version} ({Architecture}, {Method}): clean on {TestExamples} test images, attacks on the first {RobustExamples} (seed {Seed})"));
        output.WriteLine();
        output.WriteLine(string.Create(c, $"{"attack",-22} {"accuracy",8} {"images",6} {"epsilon",8} {"steps",6} {"step",8} {"time",8}"));
        output.WriteLine(string.Create(c, $"{"clean",-22} {Clean,8:P1} {TestExamples,6}"));
        foreach (var a in Attacks)
        {
            output.WriteLine(string.Create(c, $"{a.Name,-22} {a.Accuracy,8:P1} {a.Examples,6} {a.Epsilon,8:0.###} {a.Steps,6} {a.StepSize,8:0.####} {a.Seconds,6:0.0} s"));
            foreach (var stage in a.Stages ?? [])
            {
                output.WriteLine(string.Create(c, $"  {stage.Attack,-20} broke {stage.Broken} of {stage.Attacked} standing ({stage.Seconds:0.0} s)"));
            }
        }

        output.WriteLine();
        if (Robust is { } robust)
        {
            output.WriteLine(string.Create(c, $"robust accuracy: {robust.Accuracy:P1} on {robust.Examples} images ({robust.Attack}{(robust.WorstCase ? ", worst case per example" : ", a single attack")})"));
        }

        if (HardPairShare is { } share)
        {
            output.WriteLine(string.Create(c, $"hard-pair share ({PairHardnessSource}): {share:P1} of adversarial errors land on the true class's hard partner"));
        }

        if (FixedPartnerShare is { } fixedShare)
        {
            output.WriteLine(string.Create(c, $"hard-pair share against the fixed partners ({FixedPartnerAttack}): {fixedShare:P1}"));
        }

        output.WriteLine(string.Create(
            c,
            $"calibration: T = {Calibration.Temperature:0.####} fitted on {ValidationExamples} held-out images; ECE {Calibration.EceBefore:P2} before, {Calibration.EceAfter:P2} after ({Calibration.Bins} bins)"));
        output.WriteLine();

        var width = Math.Max(12, Classes.Max(k => k.Name.Length));
        var header = string.Create(c, $"{"class".PadRight(width)} {"clean",7}");
        header = Attacks.Aggregate(header, (h, a) => h + string.Create(c, $" {a.Name,7}"));
        output.WriteLine(header + string.Create(c, $"  {"hard partner".PadRight(width)} {"hardness",8} {"on partner",10}"));
        foreach (var k in Classes)
        {
            var line = string.Create(c, $"{k.Name.PadRight(width)} {k.CleanAccuracy,7:P1}");
            line = Attacks.Aggregate(line, (l, a) => l + string.Create(c, $" {k.RobustAccuracy[a.Name],7:P1}"));
            output.WriteLine(line + string.Create(c, $"  {k.HardPartner.PadRight(width)} {k.PairHardness,8:0.000} {k.PartnerShare,10:P1}"));
        }
    }
}

/// <summary>One attack's result; <paramref name="Confusion"/>[true][predicted] counts the test images.</summary>
internal sealed record AttackSummary(string Name, double Epsilon, int Steps, double StepSize, double Accuracy, double Seconds, long[][] Confusion)
{
    public int Examples { get; init; }

    /// <summary>For a suite: each attack's points attacked and broken, and its time.</summary>
    public IReadOnlyList<ML.Attacks.SuiteStage>? Stages { get; init; }
}

internal sealed record CalibrationSummary(double Temperature, double EceBefore, double EceAfter, int Bins);
