using System.Globalization;
using ScottPlot;

namespace HardPair.Bench.Report;

/// <summary>The report's PNG figures.</summary>
internal static class Charts
{
    public static IEnumerable<string> Write(IReadOnlyList<MethodRun> runs, string folder)
    {
        foreach (var run in runs)
        {
            yield return ConfusionHeatmap(run, folder);
        }

        yield return TrainingCurve(runs, folder, "training-loss.png", "training loss (mean per window)", p => p.Loss);
        if (runs.Any(r => r.History.Any(p => p.RobustLoss is not null)))
        {
            yield return TrainingCurve(runs, folder, "training-robust-term.png", "robust term of the loss (before β)", p => p.RobustLoss);
        }
    }

    /// <summary>
    /// The adversarial confusion of the attack the pair hardness was measured with, each row
    /// normalised to the share of that true class's test images (so the diagonal is robust
    /// per-class accuracy and the brightest off-diagonal cells are the hard pairs).
    /// </summary>
    private static string ConfusionHeatmap(MethodRun run, string folder)
    {
        var e = run.Evaluation;
        var attack = e.Attacks.FirstOrDefault(a => a.Name == e.PairHardnessSource) ?? e.Attacks.FirstOrDefault();
        var confusion = attack?.Confusion ?? e.CleanConfusion;
        var name = attack?.Name ?? "clean";
        var classes = e.Classes.Select(k => k.Name).ToArray();
        var n = confusion.Length;
        var shares = new double[n, n];
        for (var t = 0; t < n; t++)
        {
            var total = Math.Max(1, confusion[t].Sum());
            for (var p = 0; p < n; p++)
            {
                shares[t, p] = (double)confusion[t][p] / total;
            }
        }

        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(shares);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        plot.Add.ColorBar(heatmap);

        // Row t is drawn at y = n - 1 - t (the first row on top), column p at x = p.
        for (var t = 0; t < n; t++)
        {
            for (var p = 0; p < n; p++)
            {
                if (shares[t, p] < 0.005)
                {
                    continue;
                }

                var label = plot.Add.Text((100 * shares[t, p]).ToString("0", CultureInfo.InvariantCulture), p, n - 1 - t);
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontSize = 11;
                label.LabelFontColor = shares[t, p] > 0.6 ? Colors.Black : Colors.White;
            }
        }

        var positions = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, classes);
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 120;
        plot.Axes.Margins(0, 0);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. classes.Reverse()]);
        plot.XLabel("predicted under attack");
        plot.YLabel("true class");
        plot.Title(string.Create(
            CultureInfo.InvariantCulture,
            $"{run.Name}: {name} confusion, % of each true class (ε {attack?.Epsilon ?? 0:0.###}, {e.TestExamples} test images)"));
        plot.Axes.Title.Label.FontSize = 14;
        var path = Path.Combine(folder, $"confusion-{run.Name}.png");
        plot.SavePng(path, 900, 760);
        return path;
    }

    private static string TrainingCurve(IReadOnlyList<MethodRun> runs, string folder, string file, string title, Func<HistoryPoint, double?> value)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var index = 0;
        foreach (var run in runs)
        {
            var points = run.History.Where(p => value(p) is not null).ToArray();
            if (points.Length == 0)
            {
                continue;
            }

            var line = plot.Add.Scatter(points.Select(p => p.Epoch).ToArray(), points.Select(p => value(p)!.Value).ToArray());
            line.LegendText = run.Name;
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.Color = palette.GetColor(index++);
        }

        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);
        var path = Path.Combine(folder, file);
        plot.SavePng(path, 900, 520);
        return path;
    }
}
