using System.Text.Json;
using System.Text.RegularExpressions;

namespace HardPair.Testing;

/// <summary>
/// The Helm chart's Grafana dashboard (helm/hardpair/dashboards/hardpair-inference.json) and the
/// Prometheus metric names its queries use, so that a test can hold them against a real scrape of
/// the inference service's <c>/metrics</c>.
/// </summary>
public static partial class GrafanaDashboard
{
    /// <summary>The dashboard's file in this checkout.</summary>
    public static string FilePath { get; } = Path.Combine(Repository.Root, "helm", "hardpair", "dashboards", "hardpair-inference.json");

    /// <summary>The dashboard's JSON as the chart ships it.</summary>
    public static string Read() => File.ReadAllText(FilePath);

    /// <summary>
    /// Every PromQL text in the dashboard: each target's <c>expr</c> (panels inside rows included)
    /// and each template variable's <c>query</c> / <c>definition</c>.
    /// </summary>
    public static IReadOnlyList<string> Queries(string json)
    {
        using var document = JsonDocument.Parse(json);
        var queries = new List<string>();
        Collect(document.RootElement, queries);
        return queries;
    }

    /// <summary>
    /// The <c>hardpair_…</c> metric names (series names as scraped: <c>…_total</c>,
    /// <c>…_bucket</c>, <c>…_sum</c>, <c>…_count</c>) that the dashboard's queries use, each once,
    /// in ordinal order.
    /// </summary>
    public static IReadOnlyList<string> MetricNames(string json) =>
        [.. Queries(json).SelectMany(q => MetricName().Matches(q).Select(m => m.Value)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>
    /// The names of <paramref name="names"/> that no sample line of a Prometheus text exposition
    /// starts with (a name followed by <c>{</c> or a space). A counter or histogram that has not
    /// been recorded yet has no samples, so a scrape holds only what the process has measured.
    /// </summary>
    public static IReadOnlyList<string> MissingFrom(IEnumerable<string> names, string exposition)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(exposition);
        var scraped = exposition.Split('\n')
            .Select(line => line.TrimEnd('\r'))
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line[..SampleNameEnd(line)])
            .ToHashSet(StringComparer.Ordinal);
        return [.. names.Where(name => !scraped.Contains(name))];
    }

    private static int SampleNameEnd(string line)
    {
        var end = line.IndexOfAny(['{', ' ']);
        return end < 0 ? line.Length : end;
    }

    private static void Collect(JsonElement element, List<string> queries)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Value.ValueKind == JsonValueKind.String && (property.Name is "expr" or "query" or "definition"))
                    {
                        queries.Add(property.Value.GetString()!);
                    }
                    else
                    {
                        Collect(property.Value, queries);
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Collect(item, queries);
                }

                break;
        }
    }

    [GeneratedRegex(@"\bhardpair_[a-z_]+")]
    private static partial Regex MetricName();
}
