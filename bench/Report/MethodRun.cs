using System.Text.Json;

namespace HardPair.Bench.Report;

/// <summary>One method's <c>train</c> summary, as far as the report needs it.</summary>
internal sealed record MethodRun(string Method, double TrainSeconds, Evaluation Evaluation, IReadOnlyList<HistoryPoint> History)
{
    /// <summary>The summary's file name without <c>.json</c>: <c>&lt;label&gt;</c> or <c>&lt;label&gt;-s&lt;seed&gt;</c>.</summary>
    public string Name { get; init; } = "";

    /// <summary>The table's row: the file name less its seed suffix (runs of one label over several seeds share a row).</summary>
    public string Label => System.Text.RegularExpressions.Regex.Replace(Name, "-s[0-9]+$", "");

    /// <summary>The order the table uses; other methods follow by name.</summary>
    private static readonly string[] Order = ["standard", "pgd-at", "trades", "spat"];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static IReadOnlyList<MethodRun> LoadAll(string folder) =>
        [.. Directory.EnumerateFiles(folder, "*.json")
            .Where(path => Path.GetFileName(path) is not "report.json")
            .Select(path => JsonSerializer.Deserialize<MethodRun>(File.ReadAllText(path), Json) is { } run ? run with { Name = Path.GetFileNameWithoutExtension(path) } : null)
            .OfType<MethodRun>()
            .Where(run => run.Evaluation is not null)
            .OrderBy(run => Array.IndexOf(Order, run.Method) is var i and >= 0 ? i : Order.Length)
            .ThenBy(run => run.Name, StringComparer.Ordinal)];

    /// <summary>Accuracy under <paramref name="attack"/>; results recorded before the rename call APGD-CE <c>apgd</c>.</summary>
    public double Accuracy(string attack) =>
        attack == "clean"
            ? Evaluation.Clean
            : Evaluation.Attacks.FirstOrDefault(a => a.Name == attack || (attack == "apgd-ce" && a.Name == "apgd"))?.Accuracy ?? double.NaN;
}

internal sealed record Evaluation(
    string Architecture,
    int TestExamples,
    double Clean,
    long[][] CleanConfusion,
    IReadOnlyList<AttackResult> Attacks,
    double? HardPairShare,
    string PairHardnessSource,
    double? FixedPartnerShare,
    Calibration Calibration,
    IReadOnlyList<ClassLine> Classes);

internal sealed record AttackResult(string Name, double Epsilon, int Steps, double StepSize, double Accuracy, double Seconds, long[][] Confusion);

internal sealed record Calibration(double Temperature, double EceBefore, double EceAfter, int Bins);

internal sealed record ClassLine(string Name);

internal sealed record HistoryPoint(int Step, double Epoch, double Loss, double NaturalLoss, double? RobustLoss, double LearningRate, double ExamplesPerSecond);
