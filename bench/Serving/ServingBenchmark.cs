using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.Bench.Serving;

/// <summary>
/// Serving benchmark (issue 8.1): the raw model per batch size in a worker process (the limit),
/// the real inference service — once its JIT has settled — under closed-loop gRPC load at several
/// concurrencies, then rounds at the highest concurrency each followed by the limit at the best
/// batch sizes (the result is the median round), and the same service with batching off — all in
/// one invocation on one machine.
///
///   dotnet run -c Release --project bench/Serving -- [--seconds 10] [--concurrency 1,4,16,64] [--out DIR]
///       [--warm-up 10] [--rounds 5] [--device cpu|cuda] [--service-cpus LIST] [--retain-freed-memory true|false] [--executors N] [--max-batch N] [--max-delay-ms MS] [--service-env NAME=VALUE,...] [--call unary|stream]
///       [--store DIR]
///   --service-cpus pins the service and the raw-limit worker to the same CPUs (taskset -c LIST);
///   start the benchmark itself (the load generator) under taskset -c on the other CPUs.
///   --store serves another checkpoint store than models/bootstrap (its newest version).
///   dotnet run -c Release --project bench/Serving -- --hot-swap   (see HotSwapBenchmark)
///   dotnet run -c Release --project bench/Serving -- --soak [--minutes 10]   (see SoakBenchmark)
///   dotnet run -c Release --project bench/Serving -- --fairness [--seconds 10]   (see FairnessBenchmark)
///   dotnet run -c Release --project bench/Serving -- --protocols [--seconds 10] [--rounds 5] [--concurrency 64]   (see ProtocolBenchmark)
/// </summary>
public static class ServingBenchmark
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--raw-worker"))
        {
            return RawLimit.RunWorker(Option(args, "--store")!, TorchSettings(args));
        }

        var seconds = double.Parse(Option(args, "--seconds") ?? "10", C);
        var warmUp = double.Parse(Option(args, "--warm-up") ?? "10", C);
        var roundCount = int.Parse(Option(args, "--rounds") ?? "5", C);
        var torchSettings = TorchSettings(args);
        // The service's Inference:MaxBatchSize; unset, the service's own default.
        int? maxBatch = Option(args, "--max-batch") is { } size ? int.Parse(size, C) : null;
        // The service's Inference:MaxQueueDelay in milliseconds; unset, the service's own default.
        string[] delay = Option(args, "--max-delay-ms") is { } ms ? ["--Inference:MaxQueueDelay", TimeSpan.FromMilliseconds(double.Parse(ms, C)).ToString("c", C)] : [];
        // Environment variables for the service alone (not the limit's worker): --service-env NAME=VALUE,...
        var serviceEnvironment = (Option(args, "--service-env") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2) is [var name, var value] ? (name, value) : throw new ArgumentException($"--service-env takes NAME=VALUE pairs, not '{pair}'"))
            .ToDictionary(pair => pair.name, pair => pair.value);
        // unary: one Classify call per image; stream: each caller keeps one ClassifyStream open
        // and sends its next image once the last one is answered (closed loop either way).
        var streaming = (Option(args, "--call") ?? "unary") switch
        {
            "unary" => false,
            "stream" => true,
            var other => throw new ArgumentException($"--call takes unary or stream, not '{other}'"),
        };
        var concurrencies = (Option(args, "--concurrency") ?? "1,4,16,64").Split(',').Select(int.Parse).ToArray();
        var root = FindRoot();
        var output = Option(args, "--out") ?? Path.Combine(root, "bench", "results", $"serving-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}");
        Directory.CreateDirectory(output);
        if (args.Contains("--hot-swap"))
        {
            return await HotSwapBenchmark.RunAsync(root, output);
        }

        if (args.Contains("--fairness"))
        {
            return await FairnessBenchmark.RunAsync(root, output, TimeSpan.FromSeconds(seconds));
        }

        if (args.Contains("--protocols"))
        {
            return await ProtocolBenchmark.RunAsync(root, output, TimeSpan.FromSeconds(seconds), roundCount, concurrencies.Max());
        }

        if (args.Contains("--soak"))
        {
            return await SoakBenchmark.RunAsync(root, output, TimeSpan.FromMinutes(double.Parse(Option(args, "--minutes") ?? "10", C)));
        }

        // The store the service and the limit serve: the shipped models/bootstrap unless --store names
        // another (to hold two models against each other back to back).
        var store = Option(args, "--store") is { } chosen ? Path.GetFullPath(chosen) : Path.Combine(root, "models", "bootstrap");
        // The version the service starts with: the store's newest.
        var version = (Directory.Exists(store) ? Directory.EnumerateDirectories(store, "v*") : []).Select(Path.GetFileName).Order(StringComparer.Ordinal).LastOrDefault()
            ?? throw new ArgumentException($"--store: {store} holds no checkpoint version");
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs for the load generator, service on {torchSettings.Cpus ?? "all CPUs"}, device {torchSettings.Device}, freed memory retained {torchSettings.RetainFreedMemory}, executors {torchSettings.Executors}, max batch {maxBatch?.ToString(C) ?? "the service's default"}, max queue delay {(delay.Length > 0 ? delay[1] : "the service's default")}, service environment [{string.Join(", ", serviceEnvironment.Select(e => $"{e.Key}={e.Value}"))}], calls {(streaming ? "ClassifyStream" : "Classify")}, model {version}; {DateTime.UtcNow:u}");
        await using var limitWorker = RawLimit.Start(store, torchSettings);
        var limitSeconds = Math.Max(2, seconds / 4);
        var rawBefore = await limitWorker.SweepAsync(limitSeconds);
        // The two best batch sizes of the sweep are measured again after each of the service's
        // rounds at the highest concurrency, the better of them that round's limit: the machine's
        // speed drifts by several percent over minutes, so each round is held against a limit
        // measured right beside it, and the median round is the result.
        var contenders = rawBefore.OrderByDescending(r => r.ImagesPerSecond).Take(2).Select(r => r.Batch).ToArray();
        var results = new List<LoadResult>();
        var rounds = new List<RoundResult>();
        var warmUps = new List<double>();
        await using (var service = await InferenceProcess.StartAsync(root, store, batching: true, extra: delay, torch: torchSettings, maxBatch: maxBatch, environment: serviceEnvironment))
        {
            warmUps.Add(await WarmUpAsync(service, test, streaming, concurrencies.Max(), warmUp));
            foreach (var concurrency in concurrencies)
            {
                results.Add(await LoadAsync(service, test, streaming, concurrency, seconds, "batched"));
            }

            for (var round = 1; round <= roundCount; round++)
            {
                var load = await LoadAsync(service, test, streaming, concurrencies.Max(), seconds, $"round {round}");
                var limits = new List<RawResult>();
                foreach (var batch in contenders)
                {
                    limits.Add(await limitWorker.MeasureAsync(batch, limitSeconds));
                }

                var best = limits.MaxBy(r => r.ImagesPerSecond)!;
                rounds.Add(new RoundResult(round, load, best, load.RequestsPerSecond / best.ImagesPerSecond));
                Console.WriteLine(string.Create(C, $"  round {round}: {load.RequestsPerSecond:0} req/s (mean batch {load.MeanBatch:0.0}, service CPUs {load.ServiceCpus:0.00}) against {best.ImagesPerSecond:0} img/s at batch {best.Batch}: {rounds[^1].OfLimit:P0}"));
            }
        }

        await using (var service = await InferenceProcess.StartAsync(root, store, batching: false, torch: torchSettings, environment: serviceEnvironment))
        {
            warmUps.Add(await WarmUpAsync(service, test, streaming, concurrencies.Max(), warmUp));
            results.Add(await LoadAsync(service, test, streaming, concurrencies.Max(), seconds, "batching off"));
        }

        var rawAfter = await limitWorker.SweepAsync(limitSeconds);
        var raw = rawBefore.Zip(rawAfter, (a, b) => a.ImagesPerSecond >= b.ImagesPerSecond ? a : b).ToList();
        var limit = rounds.Count > 0 ? Median(rounds.Select(r => r.Limit.ImagesPerSecond)) : raw.Max(r => r.ImagesPerSecond);
        Console.WriteLine();
        Console.WriteLine("raw in-process model, before / after the service runs:");
        foreach (var (before, after) in rawBefore.Zip(rawAfter))
        {
            Console.WriteLine(string.Create(C, $"  batch {before.Batch,4}: {before.ImagesPerSecond,9:0} ({before.Streams} stream) / {after.ImagesPerSecond,9:0} ({after.Streams}) images/s"));
        }

        Console.WriteLine(string.Create(C, $"the limit: {limit:0} images/s ({(rounds.Count > 0 ? $"the median of the {rounds.Count} rounds' limits" : "the best of the sweeps")})"));
        Console.WriteLine();
        Console.WriteLine(string.Create(C, $"{"mode",-13} {"conc",5} {"req/s",9} {"of limit",9} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"batch",6} {"failed",7} {"rss MiB",8} {"cpus",5} {"gen cpus",8}"));
        foreach (var r in results.Take(concurrencies.Length).Concat(rounds.Select(r => r.Load)).Concat(results.Skip(concurrencies.Length)))
        {
            var ofLimit = rounds.FirstOrDefault(round => ReferenceEquals(round.Load, r))?.OfLimit ?? r.RequestsPerSecond / limit;
            Console.WriteLine(string.Create(C, $"{r.Mode,-13} {r.Concurrency,5} {r.RequestsPerSecond,9:0} {ofLimit,9:P0} {r.P50,8:0.00} {r.P99,8:0.00} {r.P999,8:0.00} {r.MeanBatch,6:0.0} {r.Failed,7} {r.ResidentMiB,8:0} {r.ServiceCpus,5:0.00} {r.LoadGeneratorCpus,8:0.00}"));
        }

        foreach (var r in results.Concat(rounds.Select(r => r.Load)).Where(r => r.Failed > 0))
        {
            Console.WriteLine(string.Create(C, $"{r.Mode} at {r.Concurrency}: {r.Failed} failed calls; {r.Failures}"));
        }

        var headline = rounds.Count > 0 ? Median(rounds.Select(r => r.OfLimit)) : double.NaN;
        if (rounds.Count > 0)
        {
            Console.WriteLine(string.Create(C, $"\nconcurrency {concurrencies.Max()}: {headline:P0} of the limit (median of {rounds.Count} rounds, each against the limit measured beside it; range {rounds.Min(r => r.OfLimit):P0}–{rounds.Max(r => r.OfLimit):P0})"));
        }

        var json = JsonSerializer.Serialize(new { machine = new { loadGeneratorCpus = Environment.ProcessorCount, totalCpus = TotalCpus(), torch = torchSettings, maxBatch, maxQueueDelay = delay.Length > 0 ? delay[1] : null, serviceEnvironment, call = streaming ? "stream" : "unary" }, model = version, date = DateTime.UtcNow, seconds, warmUpSeconds = warmUps, limit, ofLimitAtHighestConcurrency = headline, rounds, raw, rawBefore, rawAfter, results }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        await File.WriteAllTextAsync(Path.Combine(output, "serving.json"), json);
        Console.WriteLine($"\nwritten {Path.Combine(output, "serving.json")}");
        return 0;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>
    /// Load that is not measured, until the service runs steady: a fresh service runs its first
    /// seconds on unoptimised, then instrumented code, and tiered compilation goes on recompiling
    /// hot methods in the background — on a busy core for a minute or more, in bursts. Load goes
    /// on, in 5 s rounds after <paramref name="minimum"/> seconds, until two rounds in a row spent
    /// under 1% of their time in the JIT (the runtime meter's <c>dotnet.jit.compilation.time</c>),
    /// or for at most 3 minutes.
    /// </summary>
    private static async Task<double> WarmUpAsync(InferenceProcess service, ImageDataset test, bool streaming, int concurrency, double minimum)
    {
        const double Round = 5, MaxSeconds = 180, QuietShare = 0.01;
        var clock = Stopwatch.StartNew();
        await LoadAsync(service, test, streaming, concurrency, minimum, "warm-up");
        var quietRounds = 0;
        while (quietRounds < 2 && clock.Elapsed.TotalSeconds < MaxSeconds)
        {
            var jitBefore = await service.JitSecondsAsync();
            var round = Stopwatch.StartNew();
            var result = await LoadAsync(service, test, streaming, concurrency, Round, "warm-up");
            var jit = await service.JitSecondsAsync() - jitBefore;
            Console.WriteLine(string.Create(C, $"  warm-up at {clock.Elapsed.TotalSeconds,4:0} s: {result.RequestsPerSecond,6:0} req/s, mean batch {result.MeanBatch,4:0.0}, JIT {jit * 1000,5:0} ms in the last {round.Elapsed.TotalSeconds:0} s"));
            quietRounds = jit < QuietShare * round.Elapsed.TotalSeconds ? quietRounds + 1 : 0;
        }

        Console.WriteLine(string.Create(C, $"warm-up: {clock.Elapsed.TotalSeconds:0} s of load until the service's JIT went quiet"));
        return clock.Elapsed.TotalSeconds;
    }

    private static Task<LoadResult> LoadAsync(InferenceProcess service, ImageDataset test, bool streaming, int concurrency, double seconds, string mode)
    {
        var client = new Classifier.ClassifierClient(service.Channel);
        var requests = Enumerable.Range(0, 512).Select(i => new ClassifyRequest
        {
            Image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(i)), Shape = { 1, 28, 28 } },
        }).ToArray();
        return LoadAsync(service, concurrency, seconds, mode, () => new Caller(client, streaming, requests));
    }

    /// <summary>
    /// Closed-loop load: <paramref name="concurrency"/> callers, each sending its next image once
    /// the last one is answered, for <paramref name="seconds"/>; throughput, latency percentiles,
    /// the service's mean batch, CPU and memory over the phase.
    /// </summary>
    internal static async Task<LoadResult> LoadAsync(InferenceProcess service, int concurrency, double seconds, string mode, Func<ILoadCaller> newCaller)
    {
        // Warm up the connection, the JIT and the model.
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async i =>
        {
            using var caller = newCaller();
            await caller.CallAsync(i);
            await caller.CompleteAsync();
        }));
        var before = await service.BatchStatsAsync();
        var cpuBefore = service.CpuTime();
        var ownCpuBefore = Environment.CpuUsage.TotalTime;
        var latencies = new List<double>[concurrency];
        var failed = 0;
        var failures = new System.Collections.Concurrent.ConcurrentDictionary<StatusCode, string>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = latencies[worker] = [];
            using var caller = newCaller();
            for (var i = worker; clock.Elapsed.TotalSeconds < seconds; i += concurrency)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await caller.CallAsync(i);
                    mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (RpcException ex)
                {
                    Interlocked.Increment(ref failed);
                    failures.TryAdd(ex.StatusCode, ex.Status.Detail);
                }
            }

            await caller.CompleteAsync();
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = (service.CpuTime() - cpuBefore).TotalSeconds / elapsed;
        var ownCpu = (Environment.CpuUsage.TotalTime - ownCpuBefore).TotalSeconds / elapsed;
        var after = await service.BatchStatsAsync();
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(p * all.Length))];
        var batches = after.Count - before.Count;
        return new LoadResult(mode, concurrency, all.Length / elapsed, Percentile(0.5), Percentile(0.99), Percentile(0.999), batches == 0 ? 0 : (after.Sum - before.Sum) / batches, failed, service.ResidentBytes() / 1048576.0, cpu, ownCpu)
        {
            Failures = string.Join("; ", failures.Select(f => $"{f.Key}: {f.Value}")),
        };
    }

    /// <summary>
    /// One closed-loop caller: a unary Classify per image, or one ClassifyStream that carries an
    /// image at a time (opened on the first image, opened again after a failure ends it).
    /// </summary>
    private sealed class Caller(Classifier.ClassifierClient client, bool streaming, ClassifyRequest[] requests) : ILoadCaller
    {
        private AsyncDuplexStreamingCall<ClassifyRequest, ClassifyResponse>? stream;

        public async Task CallAsync(int image)
        {
            var request = requests[image % requests.Length];
            if (!streaming)
            {
                await client.ClassifyAsync(request);
                return;
            }

            try
            {
                stream ??= client.ClassifyStream();
                await stream.RequestStream.WriteAsync(request);
                if (!await stream.ResponseStream.MoveNext(CancellationToken.None))
                {
                    throw new RpcException(new Status(StatusCode.Internal, "the stream ended without an answer"));
                }
            }
            catch (RpcException)
            {
                Dispose();
                throw;
            }
        }

        /// <summary>Ends the stream (if one is open) the way a client that is done does.</summary>
        public async Task CompleteAsync()
        {
            if (stream is not null)
            {
                await stream.RequestStream.CompleteAsync();
                while (await stream.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            }
        }

        public void Dispose()
        {
            stream?.Dispose();
            stream = null;
        }
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

/// <summary>A closed-loop caller of one protocol: sends image <c>i</c> (of a fixed set) and waits for its answer.</summary>
internal interface ILoadCaller : IDisposable
{
    Task CallAsync(int image);

    /// <summary>Ends whatever the caller holds open, as a client that is done does.</summary>
    Task CompleteAsync();
}

public sealed record RawResult(int Batch, double ImagesPerSecond, int Streams = 1);

/// <summary>One load phase; <see cref="ResidentMiB"/> is the service's resident memory at its end, <see cref="ServiceCpus"/> its CPU time over the phase divided by the phase's length (1.0 = one core busy throughout).</summary>
/// <summary>One interleaved round: the service's load, then the limit measured right after it.</summary>
public sealed record RoundResult(int Round, LoadResult Load, RawResult Limit, double OfLimit);

public sealed record LoadResult(string Mode, int Concurrency, double RequestsPerSecond, double P50, double P99, double P999, double MeanBatch, int Failed, double ResidentMiB, double ServiceCpus, double LoadGeneratorCpus)
{
    /// <summary>Each status code the failed calls got, with the first detail seen for it.</summary>
    public string Failures { get; init; } = "";
}
