using HardPair.InferenceService.Models;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace HardPair.InferenceService.Health;

/// <summary>Ready once a verified model serves; NOT_SERVING before (the first load, or a store with nothing valid).</summary>
internal sealed class ModelReadinessCheck(ModelHost host) : IHealthCheck
{
    public const string Name = "model";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(host.Current is { } model
            ? HealthCheckResult.Healthy($"serving {model.Version}")
            : HealthCheckResult.Unhealthy("no model loaded"));
}
