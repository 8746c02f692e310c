using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace HardPair.InferenceService.Models;

/// <summary>The inference service's instruments (meter <c>HardPair.Inference</c>).</summary>
public sealed class InferenceMetrics
{
    public const string MeterName = "HardPair.Inference";

    private readonly Counter<long> requests;
    private readonly Histogram<double> latency;
    private readonly Histogram<double> queueTime;
    private readonly Histogram<int> batchSize;
    private readonly Counter<long> swaps;
    private readonly Counter<long> refusals;
    private readonly Counter<long> ambiguous;
    private readonly Counter<long> rateLimited;
    private readonly Counter<long> storeScans;
    private string version = "";

    public InferenceMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        requests = meter.CreateCounter<long>("hardpair.inference.requests", "{request}", "Classify calls by method and status code");
        latency = meter.CreateHistogram<double>("hardpair.inference.latency", "s", "Classify latency, end to end in the service");
        queueTime = meter.CreateHistogram<double>("hardpair.inference.queue_time", "s", "Time an image waited for its batch");
        batchSize = meter.CreateHistogram<int>("hardpair.inference.batch_size", "{image}", "Images per forward pass");
        swaps = meter.CreateCounter<long>("hardpair.inference.swaps", "{swap}", "Model swaps");
        refusals = meter.CreateCounter<long>("hardpair.inference.rejected_candidates", "{checkpoint}", "Checkpoints refused at verification");
        ambiguous = meter.CreateCounter<long>("hardpair.inference.ambiguous", "{response}", "Responses flagged ambiguous, by class pair");
        rateLimited = meter.CreateCounter<long>("hardpair.inference.rate_limited", "{call}", "Calls refused by the per-client rate limit");
        storeScans = meter.CreateCounter<long>("hardpair.inference.store_scans", "{scan}", "Listings of the checkpoint store (each reads every version's manifest)");
        meter.CreateObservableGauge("hardpair.inference.model", () => new Measurement<int>(version.Length == 0 ? 0 : 1, new KeyValuePair<string, object?>("version", version)), "1", "1 with the serving version as a tag");
    }

    public void Request(string method, Grpc.Core.StatusCode status, TimeSpan elapsed)
    {
        var tags = new TagList { { "method", method }, { "status", status.ToString() } };
        requests.Add(1, tags);
        latency.Record(elapsed.TotalSeconds, tags);
    }

    public void Batch(int size, IEnumerable<TimeSpan> waits)
    {
        ArgumentNullException.ThrowIfNull(waits);
        batchSize.Record(size);
        foreach (var wait in waits)
        {
            queueTime.Record(wait.TotalSeconds);
        }
    }

    public void StoreScanned() => storeScans.Add(1);

    public void Swapped(string servingVersion)
    {
        version = servingVersion;
        swaps.Add(1);
    }

    public void CandidateRefused() => refusals.Add(1);

    public void RateLimited() => rateLimited.Add(1);

    public void Ambiguous(string first, string second) =>
        ambiguous.Add(1, new TagList { { "pair", string.CompareOrdinal(first, second) < 0 ? $"{first}|{second}" : $"{second}|{first}" } });
}
