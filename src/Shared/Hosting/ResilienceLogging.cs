using Microsoft.Extensions.DependencyInjection;
using Polly.Telemetry;

namespace HardPair.Hosting;

/// <summary>
/// What the Polly pipelines (the calls between the two processes) write to the log. Polly's own
/// defaults put every call at information — each attempt and each pipeline run, with the whole
/// response — which buries what an operator needs. Here: retries, timeouts, circuit-breaker state
/// changes and failed attempts at warning; successful attempts and pipeline runs at debug; and a
/// result is logged by its type name, never its content.
/// </summary>
public static class ResilienceLogging
{
    public static IServiceCollection AddResilienceLogging(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.Configure<TelemetryOptions>(options =>
        {
            options.SeverityProvider = args => SeverityOf(args.Event);
            options.ResultFormatter = (_, result) => result?.GetType().Name;
        });
        return services;
    }

    /// <summary>The level of one Polly event (see the class summary).</summary>
    public static ResilienceEventSeverity SeverityOf(ResilienceEvent resilienceEvent) => resilienceEvent.EventName switch
    {
        "PipelineExecuting" or "PipelineExecuted" => ResilienceEventSeverity.Debug,
        // Polly reports a handled (failed) attempt at warning or above, a successful one at information.
        "ExecutionAttempt" => resilienceEvent.Severity > ResilienceEventSeverity.Information ? ResilienceEventSeverity.Warning : ResilienceEventSeverity.Debug,
        "OnRetry" or "OnTimeout" or "OnCircuitOpened" or "OnCircuitHalfOpened" or "OnCircuitClosed" => ResilienceEventSeverity.Warning,
        _ => resilienceEvent.Severity,
    };
}
