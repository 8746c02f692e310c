using ScottPlot;

namespace HardPair.Bench.Cycles;

/// <summary>The cycles' curve: the candidate's clean and robust accuracy and the serving model's robust accuracy, per cycle.</summary>
internal static class CycleChart
{
    public static void Write(IReadOnlyList<CycleRecord> cycles, string path)
    {
        var plot = new Plot();
        double[] x = [.. cycles.Select(r => (double)r.Cycle)];
        var clean = plot.Add.Scatter(x, [.. cycles.Select(r => 100 * r.CandidateClean)]);
        clean.LegendText = "candidate clean";
        var robust = plot.Add.Scatter(x, [.. cycles.Select(r => 100 * r.CandidateRobust)]);
        robust.LegendText = $"candidate robust ({cycles.FirstOrDefault()?.Attack})";
        var serving = plot.Add.Scatter(x, [.. cycles.Select(r => 100 * Math.Max(0, r.ServingRobust))]);
        serving.LegendText = "serving robust (before the cycle)";
        serving.LinePattern = LinePattern.Dashed;
        foreach (var published in cycles.Where(r => r.Accepted))
        {
            plot.Add.Marker(published.Cycle, 100 * published.CandidateRobust, MarkerShape.FilledCircle, size: 12);
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(x, [.. cycles.Select(r => r.Cycle.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        var values = cycles.SelectMany(r => new[] { r.CandidateClean, r.CandidateRobust, Math.Max(0, r.ServingRobust) }).Select(v => 100 * v).ToList();
        plot.Axes.SetLimits(0.5, cycles.Count + 0.5, Math.Max(0, values.Min() - 5), Math.Min(100, values.Max() + 5));
        plot.Title("Retraining cycles (filled circles: published)");
        plot.XLabel("cycle");
        plot.YLabel("accuracy on the gate's held-out images (%)");
        plot.ShowLegend(Alignment.MiddleRight);
        plot.SavePng(path, 900, 500);
    }
}
