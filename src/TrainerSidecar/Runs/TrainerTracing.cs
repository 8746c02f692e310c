using System.Diagnostics;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// The sidecar's own spans (activity source <c>HardPair.Trainer</c>, exported over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set): one per run, from its start on the worker to its
/// end, with the run's id, method and trigger, and the phase it ended in.
/// </summary>
public static class TrainerTracing
{
    public const string SourceName = "HardPair.Trainer";

    public const string RunSpan = "training run";

    internal static readonly ActivitySource Source = new(SourceName);
}
