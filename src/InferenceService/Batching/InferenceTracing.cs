using System.Diagnostics;

namespace HardPair.InferenceService.Batching;

/// <summary>
/// The service's own spans (activity source <c>HardPair.Inference</c>, exported with the requests'
/// over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set): one per batch forward, linked to the
/// trace of every request it answered — a batch serves many traces, so it is a span of its own
/// rather than a child of one of them.
/// </summary>
public static class InferenceTracing
{
    public const string SourceName = "HardPair.Inference";

    public const string BatchSpan = "inference batch";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>The batch's span, or null when nobody listens (then nothing is allocated).</summary>
    internal static Activity? StartBatch(IEnumerable<ActivityContext> traces, int size, string version)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var links = traces.Where(c => c != default).Distinct().Select(c => new ActivityLink(c));
        var activity = Source.StartActivity(BatchSpan, ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("hardpair.batch.size", size);
        activity?.SetTag("hardpair.model.version", version);
        return activity;
    }
}
