using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HardPair.ML.Checkpoints;
using HardPair.ML.Data;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using TorchSharp;

namespace HardPair.Bench.Serving;

/// <summary>
/// The limit: images/s of the bare network (load, forward under inference mode, softmax, copy
/// back) per batch size, measured in a worker process of its own that is given the same CPUs and
/// device as the service (<c>taskset -c</c>), so that the service and its limit run on equal
/// terms. The worker stays up for the whole benchmark and measures on request, so that the limit
/// can be measured between the service's load rounds; it idles (blocked on its input) meanwhile.
/// </summary>
internal sealed class RawLimit : IAsyncDisposable
{
    public static readonly int[] BatchSizes = [1, 8, 32, 64, 128, 256];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Process process;
    private readonly Task<string> stderr;

    private RawLimit(Process process)
    {
        this.process = process;
        stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Starts the worker on the service's CPUs and device; it loads the model and warms up.</summary>
    public static RawLimit Start(string store, ServiceTorch torch)
    {
        string[] command =
        [
            "dotnet", typeof(RawLimit).Assembly.Location, "--raw-worker", "--store", store, "--device", torch.Device, "--retain-freed-memory", torch.RetainFreedMemory ? "true" : "false",
            "--executors", torch.Executors.ToString(CultureInfo.InvariantCulture),
        ];
        var start = Pinned(torch.Cpus, command);
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        return new RawLimit(Process.Start(start) ?? throw new InvalidOperationException("could not start the raw-limit worker"));
    }

    /// <summary>images/s at <paramref name="batch"/> for <paramref name="seconds"/> (the better of one stream and one per executor).</summary>
    public async Task<RawResult> MeasureAsync(int batch, double seconds)
    {
        await process.StandardInput.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{batch} {seconds}"));
        await process.StandardInput.FlushAsync();
        var line = await process.StandardOutput.ReadLineAsync()
            ?? throw new InvalidOperationException($"the raw-limit worker stopped: {await stderr}");
        return JsonSerializer.Deserialize<RawResult>(line, Json) ?? throw new InvalidOperationException("the raw-limit worker printed no result");
    }

    /// <summary>Every batch size in turn.</summary>
    public async Task<List<RawResult>> SweepAsync(double secondsEach)
    {
        var results = new List<RawResult>();
        foreach (var batch in BatchSizes)
        {
            results.Add(await MeasureAsync(batch, secondsEach));
        }

        return results;
    }

    public async ValueTask DisposeAsync()
    {
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>A process start for <paramref name="command"/>, under <c>taskset -c cpus</c> when CPUs are given.</summary>
    public static ProcessStartInfo Pinned(string? cpus, IReadOnlyList<string> command)
    {
        var start = new ProcessStartInfo(cpus is null ? command[0] : "taskset") { UseShellExecute = false };
        if (cpus is not null)
        {
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(cpus);
            start.ArgumentList.Add(command[0]);
        }

        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    /// <summary>
    /// The worker's side: load the model, warm up, then for each input line "BATCH SECONDS"
    /// measure that batch size with one stream on all Torch threads and, when the service runs
    /// several executors, with as many concurrent streams on an equal share each — the better
    /// counts — and print it as one JSON line; stop at the end of the input.
    /// </summary>
    public static int RunWorker(string store, ServiceTorch settings)
    {
        TorchRuntime.Initialize(new TorchRuntimeOptions { Device = settings.Device, RetainFreedMemory = settings.RetainFreedMemory });
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        var latest = new CheckpointStore(store, TimeProvider.System).Latest() ?? throw new InvalidOperationException($"no checkpoint in {store}");
        using var checkpoint = CheckpointLoader.Load(latest.Folder, TorchRuntime.Device);
        var threads = torch.get_num_threads();
        Console.Error.WriteLine($"raw worker: {Environment.ProcessorCount} CPUs, {TorchRuntime.Device}, torch threads {threads}");

        // A process's first seconds of forward passes run at about half speed (allocator and
        // thread-pool warm-up): measured without a warm-up, the limit would flatter the service.
        Streams(checkpoint, test, 64, 2, 1, threads);
        while (Console.ReadLine() is { } line)
        {
            var request = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var batch = int.Parse(request[0], CultureInfo.InvariantCulture);
            var seconds = double.Parse(request[1], CultureInfo.InvariantCulture);
            // Half a second unmeasured first: the service's load has just had the caches.
            Streams(checkpoint, test, batch, 0.5, 1, threads);
            var single = Streams(checkpoint, test, batch, seconds, 1, threads);
            var several = settings.Executors > 1 ? Streams(checkpoint, test, batch, seconds, settings.Executors, Math.Max(1, threads / settings.Executors)) : 0;
            var result = several > single ? new RawResult(batch, several, settings.Executors) : new RawResult(batch, single, 1);
            Console.WriteLine(JsonSerializer.Serialize(result, Json));
        }

        return 0;
    }

    /// <summary>images/s of <paramref name="streams"/> threads each running forward passes for <paramref name="seconds"/>.</summary>
    private static double Streams(LoadedCheckpoint checkpoint, ImageDataset test, int batch, double seconds, int streams, int threadsEach)
    {
        var indices = Enumerable.Range(0, batch).ToArray();
        var images = new long[streams];
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, streams).Select(stream => new Thread(() =>
        {
            torch.set_num_threads(threadsEach);
            while (clock.Elapsed.TotalSeconds < seconds)
            {
                using var scope = torch.NewDisposeScope();
                using var inference = torch.inference_mode();
                var (x, _) = test.Batch(indices);
                checkpoint.Model.forward(x.to(TorchRuntime.Device)).softmax(1).cpu().data<float>().ToArray();
                images[stream] += batch;
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        return images.Sum() / clock.Elapsed.TotalSeconds;
    }
}

/// <summary>How the service and its limit run Torch: device, CPUs (taskset list, null = all), heap tuning and executors.</summary>
internal sealed record ServiceTorch(string Device, string? Cpus, bool RetainFreedMemory, int Executors = 1)
{
    public IEnumerable<string> ServiceArguments() =>
    [
        "--Torch:Device", Device, "--Torch:RetainFreedMemory", RetainFreedMemory ? "true" : "false",
        "--Inference:Executors", Executors.ToString(CultureInfo.InvariantCulture),
    ];
}
