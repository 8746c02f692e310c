using System.Text.Json;
using HardPair.Testing;

namespace HardPair.Deployment.Tests;

/// <summary>The chart's Grafana dashboard file: its queries, its data source and the metric names it needs.</summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class GrafanaDashboardTests
{
    /// <summary>
    /// The series the OpenTelemetry Prometheus exporter writes for the inference meter's
    /// instruments (InferenceMetrics): dots become underscores, unit "s" adds <c>_seconds</c>,
    /// "{request}"-style annotations and "1" add nothing, counters end in <c>_total</c>,
    /// histograms come as <c>_bucket</c>, <c>_sum</c> and <c>_count</c>.
    /// </summary>
    private static readonly string[] Exported =
    [
        "hardpair_inference_requests_total",
        .. Histogram("hardpair_inference_latency_seconds"),
        .. Histogram("hardpair_inference_queue_time_seconds"),
        .. Histogram("hardpair_inference_batch_size"),
        "hardpair_inference_swaps_total",
        "hardpair_inference_rejected_candidates_total",
        "hardpair_inference_ambiguous_total",
        "hardpair_inference_rate_limited_total",
        "hardpair_inference_store_scans_total",
        "hardpair_inference_model",
    ];

    [Fact]
    public void MetricNames_OfTheChartsDashboard_AreExportedSeriesOfTheInferenceMeter()
    {
        var names = GrafanaDashboard.MetricNames(GrafanaDashboard.Read());

        Assert.Equal(
            [
                "hardpair_inference_ambiguous_total",
                "hardpair_inference_batch_size_bucket",
                "hardpair_inference_batch_size_count",
                "hardpair_inference_batch_size_sum",
                "hardpair_inference_latency_seconds_bucket",
                "hardpair_inference_model",
                "hardpair_inference_queue_time_seconds_bucket",
                "hardpair_inference_rejected_candidates_total",
                "hardpair_inference_requests_total",
                "hardpair_inference_swaps_total",
            ],
            names);
        Assert.All(names, name => Assert.Contains(name, Exported));
        foreach (var instrument in new[] { "requests", "latency", "queue_time", "batch_size", "swaps", "rejected_candidates", "ambiguous" })
        {
            Assert.Contains(names, name => name.StartsWith($"hardpair_inference_{instrument}_", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Dashboard_EveryPanelAndQuery_UsesTheDatasourceVariable()
    {
        using var document = JsonDocument.Parse(GrafanaDashboard.Read());
        var root = document.RootElement;

        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().ToList();
        var datasource = Assert.Single(variables, v => v.GetProperty("name").GetString() == "datasource");
        Assert.Equal("datasource", datasource.GetProperty("type").GetString());
        Assert.Equal("prometheus", datasource.GetProperty("query").GetString());
        var panels = Panels(root);
        Assert.NotEmpty(panels);
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.All(panels, p => Assert.Equal("${datasource}", p.GetProperty("datasource").GetProperty("uid").GetString()));
        Assert.All(panels.SelectMany(p => p.GetProperty("targets").EnumerateArray()), t =>
        {
            Assert.Equal("${datasource}", t.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString()));
        });
        Assert.All(variables.Where(v => v.GetProperty("type").GetString() == "query"), v => Assert.Equal("${datasource}", v.GetProperty("datasource").GetProperty("uid").GetString()));
    }

    [Fact]
    public void Dashboard_LatencyAndAmbiguity_AreByMethodStatusAndClassPair()
    {
        using var document = JsonDocument.Parse(GrafanaDashboard.Read());
        var panels = Panels(document.RootElement);
        static List<string> Exprs(JsonElement panel) => [.. panel.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!)];

        var latency = Exprs(panels.Single(p => Exprs(p).Any(e => e.Contains("hardpair_inference_latency_seconds_bucket", StringComparison.Ordinal))));
        Assert.Equal(3, latency.Count);
        foreach (var (quantile, expr) in new[] { "0.5", "0.95", "0.99" }.Zip(latency))
        {
            Assert.StartsWith($"histogram_quantile({quantile}, sum by (le, method, status) (", expr, StringComparison.Ordinal);
        }

        var heatmap = Assert.Single(panels, p => p.GetProperty("type").GetString() == "heatmap");
        var ambiguous = Assert.Single(Exprs(heatmap));
        Assert.StartsWith("sum by (pair) (increase(hardpair_inference_ambiguous_total{", ambiguous, StringComparison.Ordinal);
        Assert.Equal("{{pair}}", heatmap.GetProperty("targets")[0].GetProperty("legendFormat").GetString());
    }

    [Fact]
    public void MissingFrom_AScrapeLackingSomeSeries_NamesOnlyThose()
    {
        const string exposition =
            "# TYPE hardpair_inference_requests_total counter\n" +
            "hardpair_inference_requests_total{method=\"Classify\",status=\"OK\"} 3 1700000000000\n" +
            "hardpair_inference_latency_seconds_bucket{method=\"Classify\",status=\"OK\",le=\"0.005\"} 1\r\n" +
            "hardpair_inference_model 1\n" +
            "# EOF\n";

        var missing = GrafanaDashboard.MissingFrom(
            ["hardpair_inference_requests_total", "hardpair_inference_latency_seconds_bucket", "hardpair_inference_model", "hardpair_inference_swaps_total", "hardpair_inference_requests"],
            exposition);

        Assert.Equal(["hardpair_inference_swaps_total", "hardpair_inference_requests"], missing);
    }

    private static List<JsonElement> Panels(JsonElement root) =>
        [.. root.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row")];

    private static IEnumerable<string> Histogram(string name) => [$"{name}_bucket", $"{name}_sum", $"{name}_count"];
}
