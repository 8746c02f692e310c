using System.ComponentModel.DataAnnotations;

namespace HardPair.Hosting;

/// <summary>Where a process exposes its metrics for Prometheus: an HTTP/1.1 server of its own, apart from the h2c gRPC ports.</summary>
public sealed class MetricsOptions : IValidatableObject
{
    public const string SectionName = "Metrics";

    /// <summary>Port of the scrape endpoint (<c>/metrics</c>); 0: no endpoint.</summary>
    [Range(0, 65535)]
    public int PrometheusPort { get; set; }

    /// <summary>
    /// Address the endpoint binds: <c>127.0.0.1</c> (default), another IP address, <c>localhost</c>,
    /// or <c>+</c> (also <c>*</c>, <c>0.0.0.0</c>) for every interface (in a pod).
    /// </summary>
    [Required]
    public string PrometheusHost { get; set; } = "127.0.0.1";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!ListenHost.IsValid(PrometheusHost))
        {
            yield return new ValidationResult(
                $"Metrics:PrometheusHost '{PrometheusHost}' must be an IP address, localhost, or + for every interface",
                [nameof(PrometheusHost)]);
        }
    }
}
