using System.Globalization;
using System.Text;

namespace HardPair.Storage.Checkpoints;

/// <summary>
/// A checkpoint's model card, from its manifest alone: what it was trained on and how, what it
/// scores, and what its robustness claim covers. The inference service's <c>GetModelInfo</c>
/// carries the same facts; <c>hardpair checkpoints card DIR</c> prints this as Markdown.
/// </summary>
public static class ModelCard
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>What "robust" means for this checkpoint, in one paragraph.</summary>
    public static string ThreatModel(CheckpointManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var current = manifest.AsCurrentSchema();
        if (current.Metrics.RobustSummary is not { } robust)
        {
            return "No robustness was measured for this checkpoint: it makes no claim about adversarial inputs.";
        }

        var how = robust.WorstCase
            ? $"the per-example worst case of {string.Join(", ", AttackNames.PartsOf(robust.Attack))} (suite {robust.Attack}): an image counts as robust only if every one of them fails on it"
            : $"the single attack {robust.Attack}";
        return string.Create(C, $"Empirical robustness to L∞ perturbations of at most ε = {robust.Epsilon:0.###} (pixels in [0, 1]) under {how}, measured on the first {robust.Examples:N0} test images. ")
            + "It is a lower bound on what a stronger or adaptive attacker can do, not a certificate, and it says nothing about other norms (L2, L0, patches), larger ε, corruptions or other distribution shift, or other datasets.";
    }

    public static string Render(CheckpointManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var m = manifest.AsCurrentSchema();
        var text = new StringBuilder();
        void Line(FormattableString line) => text.AppendLine(line.ToString(C));

        Line($"# Model card: {m.Version}");
        text.AppendLine();
        Line($"Written by `hardpair checkpoints card` from the checkpoint's manifest (schema {manifest.SchemaVersion}, created {m.CreatedAt:yyyy-MM-dd HH:mm} UTC).");
        text.AppendLine();
        text.AppendLine("## Summary");
        text.AppendLine();
        text.AppendLine("| | |");
        text.AppendLine("|---|---|");
        Line($"| Task | {m.Dataset.Name}: {m.ClassNames.Length} classes, input {string.Join("×", m.InputShape)} (channels × height × width), pixels in [0, 1] |");
        Line($"| Network | {m.Architecture}, {m.Head} head |");
        Line($"| Training | {m.Training.Method}, {m.Training.Epochs:0.##} epochs on {m.Dataset.TrainExamples:N0} training images{(m.Dataset.FeedbackExamples > 0 ? string.Create(C, $" and {m.Dataset.FeedbackExamples:N0} feedback examples") : "")}, seed {m.Training.Seed}, on {m.Training.Device} |");
        Line($"| Clean accuracy | {m.Metrics.CleanAccuracy:P1} on {m.Metrics.CleanExamples:N0} test images |");
        if (m.Metrics.RobustSummary is { } robust)
        {
            Line($"| Robust accuracy | {robust.Accuracy:P1} under {robust.Attack}{(robust.WorstCase ? " (per-example worst case)" : "")} at ε = {robust.Epsilon:0.###}, first {robust.Examples:N0} test images |");
        }
        else
        {
            text.AppendLine("| Robust accuracy | not measured |");
        }

        if (m.Metrics.HardPairShare is { } share)
        {
            Line($"| Hard-pair share | {share:0.000} of the adversarial errors ({m.Metrics.PairHardnessSource}) land on the true class's hard partner |");
        }

        if (m.Calibration is { } calibration)
        {
            Line($"| Calibration | temperature {m.CalibrationTemperature:0.####} fitted on the {m.Dataset.ValidationExamples:N0} validation images; ECE {calibration.EceBefore:0.000} → {calibration.EceAfter:0.000} ({calibration.Bins} bins) |");
        }

        text.AppendLine();
        text.AppendLine("## What \"robust\" means here");
        text.AppendLine();
        text.AppendLine(ThreatModel(manifest));
        text.AppendLine();

        text.AppendLine("## Training recipe");
        text.AppendLine();
        text.AppendLine("| setting | value |");
        text.AppendLine("|---|---|");
        Line($"| method | {m.Training.Method} |");
        Line($"| epochs | {m.Training.Epochs:0.##} |");
        foreach (var (name, value) in m.Training.HyperParameters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Line($"| {name} | {value:0.######}{Meaning(name, value)} |");
        }

        Line($"| training images | {m.Dataset.TrainExamples:N0} (validation images held out: {m.Dataset.ValidationExamples:N0}) |");
        if (m.ParentVersion is { } parent)
        {
            Line($"| fine-tuned from | {parent} |");
        }

        text.AppendLine();
        if (m.Metrics.Robust.Count > 0)
        {
            text.AppendLine("## Accuracy under each attack");
            text.AppendLine();
            text.AppendLine("| attack | ε | steps | accuracy | images |");
            text.AppendLine("|---|---|---|---|---|");
            foreach (var r in m.Metrics.Robust)
            {
                Line($"| {r.Attack} | {r.Epsilon:0.###} | {(r.Steps == 0 ? "suite" : r.Steps.ToString(C))} | {r.Accuracy:P1} | {r.Examples:N0} |");
            }

            text.AppendLine();
        }

        text.AppendLine("## Per class");
        text.AppendLine();
        if (m.Metrics.Classes.Count == 0)
        {
            text.AppendLine("Not recorded in this manifest (checkpoints published before per-class metrics were kept).");
        }
        else
        {
            text.AppendLine($"| class | clean | robust ({m.Metrics.RobustSummary?.Attack ?? "not measured"}) | hard partner |");
            text.AppendLine("|---|---|---|---|");
            foreach (var c in m.Metrics.Classes)
            {
                Line($"| {c.Name} | {c.CleanAccuracy:P1} | {(c.RobustAccuracy is { } r ? r.ToString("P1", C) : "—")} | {c.HardPartner} |");
            }
        }

        text.AppendLine();
        text.AppendLine("## Hardest pairs");
        text.AppendLine();
        text.AppendLine($"h(i, j) = (A[i, j] + A[j, i]) / 2 from the adversarial confusion A of {m.Metrics.PairHardnessSource ?? "the evaluation"}; the pairs the service flags as ambiguous.");
        text.AppendLine();
        text.AppendLine("| pair | hardness |");
        text.AppendLine("|---|---|");
        foreach (var (first, second, hardness) in HardestPairs(m.ClassNames, m.PairHardness).Take(5))
        {
            Line($"| {first} / {second} | {hardness:0.000} |");
        }

        return text.ToString();
    }

    /// <summary>Every pair of classes with a hardness above 0, hardest first.</summary>
    public static IEnumerable<(string First, string Second, double Hardness)> HardestPairs(IReadOnlyList<string> classNames, double[][] hardness)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(hardness);
        var h = hardness;
        return Enumerable.Range(0, h.Length)
            .SelectMany(i => Enumerable.Range(i + 1, h.Length - i - 1).Select(j => (classNames[i], classNames[j], h[i][j])))
            .Where(p => p.Item3 > 0)
            .OrderByDescending(p => p.Item3);
    }

    /// <summary>
    /// What a coded hyper-parameter's number means: the manifest stores the learning-rate schedule
    /// as 0 step, 1 cosine, 2 one-cycle (<c>HyperParameters.Schedule</c>).
    /// </summary>
    private static string Meaning(string name, double value) =>
        name == "schedule" && value is 0 or 1 or 2 ? $" ({(int)value switch { 0 => "step", 1 => "cosine", _ => "one-cycle" }})" : "";
}
