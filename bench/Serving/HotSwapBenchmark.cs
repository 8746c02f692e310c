using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.Bench.Serving;

/// <summary>
/// Hot swap under load (issue 8.2): 16 closed-loop callers; a steady phase, then 20 swaps between
/// two versions during load (failed calls, p99 during swaps vs steady), then 100 more swaps and the
/// service's resident memory against before.
///
///   dotnet HardPair.Bench.Serving.dll --hot-swap [--out DIR]
/// </summary>
public static class HotSwapBenchmark
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string root, string output)
    {
        var store = Path.Combine(Path.GetTempPath(), $"hardpair-swap-{Guid.NewGuid():N}");
        var versions = SeedTwoVersions(Path.Combine(root, "models", "bootstrap"), store);
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        try
        {
            await using var service = await InferenceProcess.StartAsync(root, store, batching: true);
            var admin = service.Admin;
            var client = new Classifier.ClassifierClient(service.Channel);
            var requests = Enumerable.Range(0, 256).Select(i => new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(i)), Shape = { 1, 28, 28 } } }).ToArray();

            // Two steady phases: the second one shows how much resident memory load alone still
            // adds, so that the swap phase's growth can be told apart from it.
            await LoadAsync(client, requests, TimeSpan.FromSeconds(5), swaps: null);
            var rssWarm = service.ResidentBytes();
            var steady = await LoadAsync(client, requests, TimeSpan.FromSeconds(6), swaps: null);
            var rssBefore = service.ResidentBytes();
            var swapping = await LoadAsync(client, requests, TimeSpan.FromSeconds(6), swaps: async () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    await admin.ActivateModelAsync(new ActivateModelRequest { Version = versions[i % 2], Pin = true });
                    await Task.Delay(250);
                }
            });
            // Five rounds of 100 swaps (no load): growth that stops is the allocator's high-water
            // mark, growth that goes on would be a leak. Measured against two baselines: before
            // any swap, and right before the hundreds (after the 20 swaps under load, which pay
            // the first-swap costs: code paths run once, allocator arenas touched by load threads).
            await Task.Delay(1000);
            var rssBeforeHundreds = service.ResidentBytes();
            var rounds = new List<long>();
            for (var round = 0; round < 5; round++)
            {
                for (var i = 0; i < 100; i++)
                {
                    await admin.ActivateModelAsync(new ActivateModelRequest { Version = versions[i % 2], Pin = true });
                }

                await Task.Delay(1000);
                rounds.Add(service.ResidentBytes());
            }

            var rssAfter = rounds[0];

            Console.WriteLine(string.Create(C, $"{"phase",-22} {"req/s",8} {"p50 ms",8} {"p99 ms",8} {"failed",7}"));
            Console.WriteLine(string.Create(C, $"{"steady",-22} {steady.RequestsPerSecond,8:0} {steady.P50,8:0.00} {steady.P99,8:0.00} {steady.Failed,7}"));
            Console.WriteLine(string.Create(C, $"{"20 swaps under load",-22} {swapping.RequestsPerSecond,8:0} {swapping.P50,8:0.00} {swapping.P99,8:0.00} {swapping.Failed,7}"));
            Console.WriteLine(string.Create(C, $"resident memory: {Mib(rssWarm)} MiB after 5 s of load, {Mib(rssBefore)} MiB after 6 s more (before any swap), {Mib(rssBeforeHundreds)} MiB after the 20 swaps under load"));
            Console.WriteLine(string.Create(C, $"after 100 / 200 / 300 / 400 / 500 more swaps: {string.Join(" / ", rounds.Select(Mib))} MiB"));
            Console.WriteLine(string.Create(C, $"100 swaps vs right before them: {(double)rssAfter / rssBeforeHundreds - 1:+0.0%;-0.0%}; vs before any swap: {(double)rssAfter / rssBefore - 1:+0.0%;-0.0%}; 500 vs 100: {(double)rounds[^1] / rssAfter - 1:+0.0%;-0.0%}"));
            var json = JsonSerializer.Serialize(new { date = DateTime.UtcNow, steady, swapping, rssWarm, rssBefore, rssBeforeHundreds, rssAfter, rssAfterRounds = rounds }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
            await File.WriteAllTextAsync(Path.Combine(output, "hot-swap.json"), json);
            Console.WriteLine($"\nwritten {Path.Combine(output, "hot-swap.json")}");
            return swapping.Failed == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(store, recursive: true);
        }
    }

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", C);

    internal static string[] SeedTwoVersions(string bootstrap, string store)
    {
        var source = Directory.GetDirectories(bootstrap)[0];
        var original = Path.GetFileName(source);
        string[] versions = ["v20260101T000000000Z-aaaaaaaa", "v20260101T000000001Z-bbbbbbbb"];
        foreach (var version in versions)
        {
            var target = Path.Combine(store, version);
            Directory.CreateDirectory(target);
            File.Copy(Path.Combine(source, "model.bin"), Path.Combine(target, "model.bin"));
            File.WriteAllText(Path.Combine(target, "manifest.json"), File.ReadAllText(Path.Combine(source, "manifest.json")).Replace(original, version, StringComparison.Ordinal));
        }

        return versions;
    }

    private static async Task<PhaseResult> LoadAsync(Classifier.ClassifierClient client, ClassifyRequest[] requests, TimeSpan duration, Func<Task>? swaps)
    {
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var failed = 0;
        using var stop = new CancellationTokenSource(duration);
        var clock = Stopwatch.StartNew();
        var callers = Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            for (var i = worker; !stop.IsCancellationRequested; i += 16)
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
        })).ToList();
        if (swaps is not null)
        {
            await swaps();
        }

        await Task.WhenAll(callers);
        var all = latencies.Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(p * all.Length))];
        return new PhaseResult(all.Length / clock.Elapsed.TotalSeconds, Percentile(0.5), Percentile(0.99), failed);
    }
}

public sealed record PhaseResult(double RequestsPerSecond, double P50, double P99, int Failed);
