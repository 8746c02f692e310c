using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Shared.Data;

namespace HardPair.Bench.Serving;

/// <summary>
/// Serving benchmark (issue 8.1): the raw in-process model at its best batch size (the limit),
/// then the real inference service under closed-loop gRPC load at several concurrencies, and the
/// same service with batching off — all in one invocation on one machine.
///
///   dotnet run -c Release --project bench/Serving -- [--seconds 10] [--concurrency 1,4,16,64] [--out DIR]
///       [--device cpu|cuda] [--service-cpus LIST] [--retain-freed-memory true|false] [--executors N] [--max-batch N]
///   --service-cpus pins the service and the raw-limit worker to the same CPUs (taskset -c LIST);
///   start the benchmark itself (the load generator) under taskset -c on the other CPUs.
///   dotnet run -c Release --project bench/Serving -- --hot-swap   (see HotSwapBenchmark)
///   dotnet run -c Release --project bench/Serving -- --soak [--minutes 10]   (see SoakBenchmark)
/// </summary>
public static class ServingBenchmark
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--raw-worker"))
        {
            return RawLimit.RunWorker(Option(args, "--store")!, TorchSettings(args), double.Parse(Option(args, "--seconds-each") ?? "2", C));
        }

        var seconds = double.Parse(Option(args, "--seconds") ?? "10", C);
        var torchSettings = TorchSettings(args);
        var maxBatch = int.Parse(Option(args, "--max-batch") ?? "64", C);
        var concurrencies = (Option(args, "--concurrency") ?? "1,4,16,64").Split(',').Select(int.Parse).ToArray();
        var root = FindRoot();
        var output = Option(args, "--out") ?? Path.Combine(root, "bench", "results", $"serving-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}");
        Directory.CreateDirectory(output);
        if (args.Contains("--hot-swap"))
        {
            return await HotSwapBenchmark.RunAsync(root, output);
        }

        if (args.Contains("--soak"))
        {
            return await SoakBenchmark.RunAsync(root, output, TimeSpan.FromMinutes(double.Parse(Option(args, "--minutes") ?? "10", C)));
        }

        var store = Path.Combine(root, "models", "bootstrap");
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs for the load generator, service on {torchSettings.Cpus ?? "all CPUs"}, device {torchSettings.Device}, freed memory retained {torchSettings.RetainFreedMemory}, executors {torchSettings.Executors}, max batch {maxBatch}; {DateTime.UtcNow:u}");
        // The limit is measured twice, before and after the service runs, 2 s per batch size each
        // time, and the better of the two kept per batch size: a short or unlucky measurement would
        // understate the limit and flatter the service.
        var rawBefore = await RawLimit.MeasureAsync(store, torchSettings, Math.Max(2, seconds / 4));
        var results = new List<LoadResult>();
        await using (var service = await InferenceProcess.StartAsync(root, store, batching: true, torch: torchSettings, maxBatch: maxBatch))
        {
            await WarmUpAsync(service, test, concurrencies.Max());
            foreach (var concurrency in concurrencies)
            {
                results.Add(await LoadAsync(service, test, concurrency, seconds, "batched"));
            }
        }

        await using (var service = await InferenceProcess.StartAsync(root, store, batching: false, torch: torchSettings))
        {
            await WarmUpAsync(service, test, concurrencies.Max());
            results.Add(await LoadAsync(service, test, concurrencies.Max(), seconds, "batching off"));
        }

        var rawAfter = await RawLimit.MeasureAsync(store, torchSettings, Math.Max(2, seconds / 4));
        var raw = rawBefore.Zip(rawAfter, (a, b) => a.ImagesPerSecond >= b.ImagesPerSecond ? a : b).ToList();
        var limit = raw.Max(r => r.ImagesPerSecond);
        Console.WriteLine();
        Console.WriteLine("raw in-process model (the limit; before / after the service runs, the better kept):");
        foreach (var (before, after) in rawBefore.Zip(rawAfter))
        {
            Console.WriteLine(string.Create(C, $"  batch {before.Batch,4}: {before.ImagesPerSecond,9:0} ({before.Streams} stream) / {after.ImagesPerSecond,9:0} ({after.Streams}) images/s"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(C, $"{"mode",-13} {"conc",5} {"req/s",9} {"of limit",9} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"batch",6} {"failed",7} {"rss MiB",8}"));
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(C, $"{r.Mode,-13} {r.Concurrency,5} {r.RequestsPerSecond,9:0} {r.RequestsPerSecond / limit,9:P0} {r.P50,8:0.00} {r.P99,8:0.00} {r.P999,8:0.00} {r.MeanBatch,6:0.0} {r.Failed,7} {r.ResidentMiB,8:0}"));
        }

        var json = JsonSerializer.Serialize(new { machine = new { loadGeneratorCpus = Environment.ProcessorCount, totalCpus = TotalCpus(), torch = torchSettings }, date = DateTime.UtcNow, seconds, limit, raw, rawBefore, rawAfter, results }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(output, "serving.json"), json);
        Console.WriteLine($"\nwritten {Path.Combine(output, "serving.json")}");
        return 0;
    }

    /// <summary>
    /// Load that is not measured: a fresh service runs its first seconds on unoptimised, then
    /// instrumented code (tiered compilation) — the limit's worker gets the same warm-up.
    /// </summary>
    private static Task WarmUpAsync(InferenceProcess service, ImageDataset test, int concurrency) =>
        LoadAsync(service, test, concurrency, WarmUpSeconds, "warm-up");

    private const double WarmUpSeconds = 5;

    private static async Task<LoadResult> LoadAsync(InferenceProcess service, ImageDataset test, int concurrency, double seconds, string mode)
    {
        var client = new Classifier.ClassifierClient(service.Channel);
        var requests = Enumerable.Range(0, 512).Select(i => new ClassifyRequest
        {
            Image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(i)), Shape = { 1, 28, 28 } },
        }).ToArray();

        // Warm up the connection, the JIT and the model.
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => client.ClassifyAsync(requests[i % requests.Length]).ResponseAsync));
        var before = await service.BatchStatsAsync();
        var latencies = new List<double>[concurrency];
        var failed = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = [];
            for (var i = worker; clock.Elapsed.TotalSeconds < seconds; i += concurrency)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await client.ClassifyAsync(requests[i % requests.Length]);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        var after = await service.BatchStatsAsync();
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(p * all.Length))];
        var batches = after.Count - before.Count;
        return new LoadResult(mode, concurrency, all.Length / elapsed, Percentile(0.5), Percentile(0.99), Percentile(0.999), batches == 0 ? 0 : (after.Sum - before.Sum) / batches, failed, service.ResidentBytes() / 1048576.0);
    }

    /// <summary>CPUs of the machine (not only those this process may use).</summary>
    private static int TotalCpus() => Directory.GetDirectories("/sys/devices/system/cpu", "cpu*").Count(d => char.IsDigit(d[^1]));

    private static ServiceTorch TorchSettings(string[] args) =>
        new(
            Option(args, "--device") ?? "cpu",
            Option(args, "--service-cpus"),
            bool.Parse(Option(args, "--retain-freed-memory") ?? "true"),
            int.Parse(Option(args, "--executors") ?? "1", C));

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "HardPair.Services.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("run from inside the repository");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed record RawResult(int Batch, double ImagesPerSecond, int Streams = 1);

/// <summary>One load phase; <see cref="ResidentMiB"/> is the service's resident memory at its end.</summary>
public sealed record LoadResult(string Mode, int Concurrency, double RequestsPerSecond, double P50, double P99, double P999, double MeanBatch, int Failed, double ResidentMiB);
