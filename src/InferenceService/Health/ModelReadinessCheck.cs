using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace HardPair.InferenceService.Health;

/// <summary>
/// The service is ready only when a verified model is loaded. The model host arrives with the
/// Classify issue; until then no model is ever loaded and the service reports NOT_SERVING.
/// </summary>
internal sealed class ModelReadinessCheck : IHealthCheck
{
    public const string Name = "model";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Unhealthy("no model loaded"));
}
