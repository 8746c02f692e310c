using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.Bench.Serving;

/// <summary>
/// Small calls beside large ones (issue 20.2): for each queue policy (FIFO, the old behaviour,
/// and round robin), one service process; 6 closed-loop unary callers alone, then the same 6
/// beside 2 closed-loop callers of 256-image ClassifyBatch calls. Reports the unary callers'
/// p50/p99 and answers per second and the batch callers' images per second, all in one run.
///
///   dotnet HardPair.Bench.Serving.dll --fairness [--seconds 10] [--out DIR]
/// </summary>
public static class FairnessBenchmark
{
    private const int UnaryCallers = 6;
    private const int BatchCallers = 2;
    private const int BatchImages = 256;
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string root, string output, TimeSpan phase)
    {
        var store = Path.Combine(root, "models", "bootstrap");
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        var requests = Enumerable.Range(0, BatchImages).Select(i => new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(i)), Shape = { 1, 28, 28 } } }).ToArray();
        var results = new List<FairnessResult>();
        foreach (var policy in new[] { "Fifo", "RoundRobin" })
        {
            // The service's defaults but the policy (its own queue capacity of 1 024 images).
            await using var service = await InferenceProcess.StartAsync(root, store, batching: true, extra: ["--Inference:QueuePolicy", policy, "--Inference:QueueCapacity", "1024"]);
            var client = new Classifier.ClassifierClient(service.Channel);
            await LoadAsync(client, requests, TimeSpan.FromSeconds(5), withBatches: true);
            foreach (var withBatches in new[] { false, true })
            {
                var result = await LoadAsync(client, requests, phase, withBatches) with { Policy = policy };
                results.Add(result);
                Console.WriteLine(string.Create(C, $"{policy,-10} {(withBatches ? "with 2 batch callers" : "unary alone"),-21} unary p50 {result.UnaryP50,7:0.0} ms  p99 {result.UnaryP99,7:0.0} ms  {result.UnaryPerSecond,6:0} answers/s  batch {result.BatchImagesPerSecond,6:0} images/s  failed {result.Failed}"));
            }
        }

        var json = JsonSerializer.Serialize(new { date = DateTime.UtcNow, unaryCallers = UnaryCallers, batchCallers = BatchCallers, batchImages = BatchImages, seconds = phase.TotalSeconds, results }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(output, "fairness.json"), json);
        Console.WriteLine($"\nwritten {Path.Combine(output, "fairness.json")}");
        return results.Sum(r => r.Failed) == 0 ? 0 : 1;
    }

    private static async Task<FairnessResult> LoadAsync(Classifier.ClassifierClient client, ClassifyRequest[] requests, TimeSpan duration, bool withBatches)
    {
        var latencies = new ConcurrentBag<double>();
        var batchImages = 0L;
        var failed = 0;
        using var stop = new CancellationTokenSource(duration);
        var clock = Stopwatch.StartNew();
        var unary = Enumerable.Range(0, UnaryCallers).Select(worker => Task.Run(async () =>
        {
            for (var i = worker; !stop.IsCancellationRequested; i += UnaryCallers)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await client.ClassifyAsync(requests[i % requests.Length]);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        var batch = new ClassifyBatchRequest { Requests = { requests } };
        var batches = Enumerable.Range(0, withBatches ? BatchCallers : 0).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    Interlocked.Add(ref batchImages, (await client.ClassifyBatchAsync(batch)).Responses.Count);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        await Task.WhenAll(unary.Concat(batches));
        var seconds = clock.Elapsed.TotalSeconds;
        var all = latencies.Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(p * all.Length))];
        return new FairnessResult("", withBatches, Percentile(0.5), Percentile(0.99), all.Length / seconds, batchImages / seconds, failed);
    }
}

public sealed record FairnessResult(string Policy, bool WithBatches, double UnaryP50, double UnaryP99, double UnaryPerSecond, double BatchImagesPerSecond, int Failed);
