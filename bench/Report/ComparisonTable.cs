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

    public static string Markdown(IReadOnlyList<MethodRun> runs)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine($"| method | {string.Join(" | ", Columns.Select(k => k.Title))} | hard-pair share | ECE before → after | train time |");
        text.AppendLine($"|---|{string.Concat(Columns.Select(_ => "---|"))}---|---|---|");
        foreach (var run in runs)
        {
            // The best value of each attack column is set in bold, so that the winner shows at a glance.
            var cells = Columns.Select(k =>
            {
                var value = run.Accuracy(k.Attack);
                if (double.IsNaN(value))
                {
                    return "–";
                }

                var cell = Percent(value);
                return runs.Max(r => r.Accuracy(k.Attack)) == value ? $"**{cell}**" : cell;
            });
            var e = run.Evaluation;
            var share = e.HardPairShare is { } s ? s.ToString("0.00", c) : "–";
            text.AppendLine(string.Create(
                c,
                $"| {run.Method} | {string.Join(" | ", cells)} | {share} | {Percent(e.Calibration.EceBefore)} → {Percent(e.Calibration.EceAfter)} | {run.TrainSeconds / 60:0.0} min |"));
        }

        return text.ToString();
    }

    private static string Percent(double value) => (100 * value).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    public static string Json(IReadOnlyList<MethodRun> runs) => JsonSerializer.Serialize(
        runs.Select(run => new
        {
            run.Method,
            Accuracy = Columns.Where(k => !double.IsNaN(run.Accuracy(k.Attack))).ToDictionary(k => k.Attack, k => run.Accuracy(k.Attack)),
            run.Evaluation.HardPairShare,
            run.Evaluation.PairHardnessSource,
            EceBefore = run.Evaluation.Calibration.EceBefore,
            EceAfter = run.Evaluation.Calibration.EceAfter,
            run.TrainSeconds,
        }),
        new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
}
