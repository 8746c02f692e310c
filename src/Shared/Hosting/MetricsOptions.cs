using System.ComponentModel.DataAnnotations;

namespace HardPair.Shared.Hosting;

/// <summary>Where a process exposes its metrics for Prometheus: an HTTP/1.1 listener of its own, apart from the h2c gRPC port.</summary>
public sealed class MetricsOptions
{
    public const string SectionName = "Metrics";

    /// <summary>Port of the scrape endpoint (<c>/metrics</c>); 0: no endpoint.</summary>
    [Range(0, 65535)]
    public int PrometheusPort { get; set; }

    /// <summary>Host the listener binds: <c>127.0.0.1</c> (default), or <c>+</c> for every interface (in a pod).</summary>
    [Required]
    public string PrometheusHost { get; set; } = "127.0.0.1";
}
