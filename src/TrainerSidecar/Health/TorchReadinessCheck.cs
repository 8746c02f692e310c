using HardPair.ML.Torch;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace HardPair.TrainerSidecar.Health;

/// <summary>The trainer is ready once Torch is running on its device.</summary>
internal sealed class TorchReadinessCheck : IHealthCheck
{
    public const string Name = "torch";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(TorchRuntime.Current is { } info
            ? HealthCheckResult.Healthy($"torch on {info.Device}")
            : HealthCheckResult.Unhealthy("torch not started"));
}
