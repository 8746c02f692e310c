using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Data;
using HardPair.Shared.Torch;
using TorchSharp;

namespace HardPair.Bench.Serving;

/// <summary>
/// Serving benchmark (issue 8.1): the raw in-process model at its best batch size (the limit),
/// then the real inference service under closed-loop gRPC load at several concurrencies, and the
/// same service with batching off — all in one invocation on one machine.
///
///   dotnet run -c Release --project bench/Serving -- [--seconds 10] [--concurrency 1,4,16,64] [--out DIR]
///   dotnet run -c Release --project bench/Serving -- --hot-swap   (see HotSwapBenchmark)
///   dotnet run -c Release --project bench/Serving -- --soak [--minutes 10]   (see SoakBenchmark)
/// </summary>
public static class ServingBenchmark
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = double.Parse(Option(args, "--seconds") ?? "10", C);
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

        TorchRuntime.Initialize(new TorchRuntimeOptions { Device = "cpu" });
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {TorchRuntime.Current!.Device}, torch threads {TorchRuntime.Current.Threads}; {DateTime.UtcNow:u}");
        // The limit is measured twice, before and after the service runs, 2 s per batch size each
        // time, and the better of the two kept per batch size: a short or unlucky measurement would
        // understate the limit and flatter the service.
        var rawBefore = RawThroughput(store, test, Math.Max(2, seconds / 4));
        var results = new List<LoadResult>();
        await using (var service = await InferenceProcess.StartAsync(root, store, batching: true))
        {
            foreach (var concurrency in concurrencies)
            {
                results.Add(await LoadAsync(service, test, concurrency, seconds, "batched"));
            }
        }

        await using (var service = await InferenceProcess.StartAsync(root, store, batching: false))
        {
            results.Add(await LoadAsync(service, test, concurrencies.Max(), seconds, "batching off"));
        }

        var rawAfter = RawThroughput(store, test, Math.Max(2, seconds / 4));
        var raw = rawBefore.Zip(rawAfter, (a, b) => a.ImagesPerSecond >= b.ImagesPerSecond ? a : b).ToList();
        var limit = raw.Max(r => r.ImagesPerSecond);
        Console.WriteLine();
        Console.WriteLine("raw in-process model (the limit; before / after the service runs, the better kept):");
        foreach (var (before, after) in rawBefore.Zip(rawAfter))
        {
            Console.WriteLine(string.Create(C, $"  batch {before.Batch,4}: {before.ImagesPerSecond,9:0} / {after.ImagesPerSecond,9:0} images/s"));
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(C, $"{"mode",-13} {"conc",5} {"req/s",9} {"of limit",9} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"batch",6} {"failed",7}"));
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(C, $"{r.Mode,-13} {r.Concurrency,5} {r.RequestsPerSecond,9:0} {r.RequestsPerSecond / limit,9:P0} {r.P50,8:0.00} {r.P99,8:0.00} {r.P999,8:0.00} {r.MeanBatch,6:0.0} {r.Failed,7}"));
        }

        var json = JsonSerializer.Serialize(new { machine = new { cores = Environment.ProcessorCount, device = TorchRuntime.Current.Device }, date = DateTime.UtcNow, seconds, limit, raw, rawBefore, rawAfter, results }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(output, "serving.json"), json);
        Console.WriteLine($"\nwritten {Path.Combine(output, "serving.json")}");
        return 0;
    }

    /// <summary>images/s of the bare network (load, forward under inference mode, softmax) per batch size, <paramref name="secondsEach"/> each.</summary>
    private static List<RawResult> RawThroughput(string store, ImageDataset test, double secondsEach)
    {
        var latest = new CheckpointStore(store, TimeProvider.System).Latest() ?? throw new InvalidOperationException($"no checkpoint in {store}");
        using var checkpoint = CheckpointReader.Load(latest.Folder);
        var results = new List<RawResult>();
        foreach (var batch in new[] { 1, 8, 32, 64, 128, 256 })
        {
            var indices = Enumerable.Range(0, batch).ToArray();
            var clock = Stopwatch.StartNew();
            long images = 0;
            while (clock.Elapsed.TotalSeconds < secondsEach)
            {
                using var scope = torch.NewDisposeScope();
                using var inference = torch.inference_mode();
                var (x, _) = test.Batch(indices);
                checkpoint.Model.forward(x).softmax(1).cpu().data<float>().ToArray();
                images += batch;
            }

            results.Add(new RawResult(batch, images / clock.Elapsed.TotalSeconds));
        }

        return results;
    }

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
        return new LoadResult(mode, concurrency, all.Length / elapsed, Percentile(0.5), Percentile(0.99), Percentile(0.999), batches == 0 ? 0 : (after.Sum - before.Sum) / batches, failed);
    }

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

public sealed record RawResult(int Batch, double ImagesPerSecond);

public sealed record LoadResult(string Mode, int Concurrency, double RequestsPerSecond, double P50, double P99, double P999, double MeanBatch, int Failed);
