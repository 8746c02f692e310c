using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Data;
using HardPair.Shared.Torch;
using TorchSharp;

namespace HardPair.Bench.Serving;

/// <summary>
/// The limit: images/s of the bare network (load, forward under inference mode, softmax, copy
/// back) per batch size, measured in a process of its own that is given the same CPUs and device
/// as the service (<c>taskset -c</c>), so that the service and its limit run on equal terms.
/// </summary>
internal static class RawLimit
{
    private static readonly int[] BatchSizes = [1, 8, 32, 64, 128, 256];

    /// <summary>Runs the measurement in a child process on the service's CPUs and device.</summary>
    public static async Task<List<RawResult>> MeasureAsync(string store, ServiceTorch torch, double secondsEach)
    {
        string[] measure =
        [
            "dotnet", typeof(RawLimit).Assembly.Location, "--raw-worker", "--store", store, "--device", torch.Device, "--retain-freed-memory", torch.RetainFreedMemory ? "true" : "false",
            "--executors", torch.Executors.ToString(CultureInfo.InvariantCulture),
            "--seconds-each", secondsEach.ToString(CultureInfo.InvariantCulture),
        ];
        var start = Pinned(torch.Cpus, measure);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the raw-limit worker");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the raw-limit worker exited with {process.ExitCode}: {await stderr}");
        }

        var last = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        return JsonSerializer.Deserialize<List<RawResult>>(last, new JsonSerializerOptions(JsonSerializerDefaults.Web))
            ?? throw new InvalidOperationException("the raw-limit worker printed no result");
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
    /// The worker's side: warm up, then measure each batch size with one stream on all Torch
    /// threads and, when the service runs several executors, with as many concurrent streams on
    /// an equal share each — the better counts; prints one JSON line.
    /// </summary>
    public static int RunWorker(string store, ServiceTorch settings, double secondsEach)
    {
        TorchRuntime.Initialize(new TorchRuntimeOptions { Device = settings.Device, RetainFreedMemory = settings.RetainFreedMemory });
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        var latest = new CheckpointStore(store, TimeProvider.System).Latest() ?? throw new InvalidOperationException($"no checkpoint in {store}");
        using var checkpoint = CheckpointReader.Load(latest.Folder, TorchRuntime.Device);
        var threads = torch.get_num_threads();

        // A process's first seconds of forward passes run at about half speed (allocator and
        // thread-pool warm-up): measured without a warm-up, the limit would flatter the service.
        Streams(checkpoint, test, 64, Math.Max(1, secondsEach), 1, threads);
        var results = new List<RawResult>();
        foreach (var batch in BatchSizes)
        {
            var single = Streams(checkpoint, test, batch, secondsEach, 1, threads);
            var several = settings.Executors > 1 ? Streams(checkpoint, test, batch, secondsEach, settings.Executors, Math.Max(1, threads / settings.Executors)) : 0;
            results.Add(several > single ? new RawResult(batch, several, settings.Executors) : new RawResult(batch, single, 1));
        }

        Console.Error.WriteLine($"raw worker: {Environment.ProcessorCount} CPUs, {TorchRuntime.Device}, torch threads {threads}");
        Console.WriteLine(JsonSerializer.Serialize(results, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
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
