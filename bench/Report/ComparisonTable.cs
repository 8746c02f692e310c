using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HardPair.Bench.Report;

/// <summary>The method-by-method comparison, as markdown for people and JSON for tools.</summary>
internal static class ComparisonTable
{
    // The suite's per-example worst case is the robust accuracy; the single attacks show how much
    // each of them alone would overstate it.
    private static readonly (string Attack, string Title)[] Columns =
        [("clean", "clean"), ("fgsm", "FGSM"), ("pgd20", "PGD-20"), ("cw", "CW-∞"), ("apgd-ce", "APGD-CE"), ("autoattack", "robust (AutoAttack)")];

    /// <summary>
    /// One row per label (runs of one label over several seeds share it, as mean ± standard
    /// deviation); the best mean of each attack column in bold. The hard-pair share is the one
    /// against the fixed partner map where the runs have it, else each run's own.
    /// </summary>
    public static string Markdown(IReadOnlyList<MethodRun> runs)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = runs.GroupBy(r => r.Label).Select(g => g.ToList()).ToList();
        var fixedPartners = runs.All(r => r.Evaluation.FixedPartnerShare is not null);
        var text = new StringBuilder();
        text.AppendLine($"| method | seeds | {string.Join(" | ", Columns.Select(k => k.Title))} | hard-pair share{(fixedPartners ? " (fixed partners)" : "")} | ECE before → after | train time |");
        text.AppendLine($"|---|---|{string.Concat(Columns.Select(_ => "---|"))}---|---|---|");
        foreach (var row in rows)
        {
            var cells = Columns.Select(k =>
            {
                var values = row.Select(r => r.Accuracy(k.Attack)).ToList();
                if (values.Any(double.IsNaN))
                {
                    return "–";
                }

                var cell = MeanAndSpread(values, percent: true);
                var best = rows.Max(other => other.Select(r => r.Accuracy(k.Attack)).Average());
                return values.Average() == best ? $"**{cell}**" : cell;
            });
            var shares = row.Select(r => fixedPartners ? r.Evaluation.FixedPartnerShare : r.Evaluation.HardPairShare).ToList();
            var share = shares.All(s => s is not null) ? MeanAndSpread([.. shares.Select(s => s!.Value)], percent: false) : "–";
            var first = row[0].Evaluation.Calibration;
            text.AppendLine(string.Create(
                c,
                $"| {row[0].Label} | {row.Count} | {string.Join(" | ", cells)} | {share} | {Percent(first.EceBefore)} → {Percent(first.EceAfter)} | {row.Average(r => r.TrainSeconds) / 60:0.0} min |"));
        }

        return text.ToString();
    }

    /// <summary>"m" for one value, "m ± sd" (sample standard deviation) for several.</summary>
    private static string MeanAndSpread(IReadOnlyList<double> values, bool percent)
    {
        var mean = values.Average();
        string Format(double v) => percent ? (100 * v).ToString("0.0", CultureInfo.InvariantCulture) : v.ToString("0.000", CultureInfo.InvariantCulture);
        if (values.Count < 2)
        {
            return percent ? Percent(mean) : Format(mean);
        }

        var sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return percent ? $"{Format(mean)} ± {Format(sd)}%" : $"{Format(mean)} ± {Format(sd)}";
    }

    private static string Percent(double value) => (100 * value).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    public static string Json(IReadOnlyList<MethodRun> runs) => JsonSerializer.Serialize(
        runs.Select(run => new
        {
            run.Name,
            run.Method,
            Accuracy = Columns.Where(k => !double.IsNaN(run.Accuracy(k.Attack))).ToDictionary(k => k.Attack, k => run.Accuracy(k.Attack)),
            run.Evaluation.HardPairShare,
            run.Evaluation.PairHardnessSource,
            run.Evaluation.FixedPartnerShare,
            EceBefore = run.Evaluation.Calibration.EceBefore,
            EceAfter = run.Evaluation.Calibration.EceAfter,
            run.TrainSeconds,
        }),
        new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
}
