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

    /// <summary>The worker's side: warm up, then measure each batch size and print one JSON line.</summary>
    public static int RunWorker(string store, ServiceTorch settings, double secondsEach)
    {
        TorchRuntime.Initialize(new TorchRuntimeOptions { Device = settings.Device, RetainFreedMemory = settings.RetainFreedMemory });
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        var latest = new CheckpointStore(store, TimeProvider.System).Latest() ?? throw new InvalidOperationException($"no checkpoint in {store}");
        using var checkpoint = CheckpointReader.Load(latest.Folder, TorchRuntime.Device);

        // A process's first seconds of forward passes run at about half speed (allocator and
        // thread-pool warm-up): measured without a warm-up, the limit would flatter the service.
        Measure(checkpoint, test, 64, Math.Max(1, secondsEach));
        var results = BatchSizes.Select(batch => new RawResult(batch, Measure(checkpoint, test, batch, secondsEach))).ToList();
        Console.Error.WriteLine($"raw worker: {Environment.ProcessorCount} CPUs, {TorchRuntime.Device}, torch threads {torch.get_num_threads()}");
        Console.WriteLine(JsonSerializer.Serialize(results, new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        return 0;
    }

    private static double Measure(LoadedCheckpoint checkpoint, ImageDataset test, int batch, double seconds)
    {
        var indices = Enumerable.Range(0, batch).ToArray();
        var clock = Stopwatch.StartNew();
        long images = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            using var scope = torch.NewDisposeScope();
            using var inference = torch.inference_mode();
            var (x, _) = test.Batch(indices);
            checkpoint.Model.forward(x.to(TorchRuntime.Device)).softmax(1).cpu().data<float>().ToArray();
            images += batch;
        }

        return images / clock.Elapsed.TotalSeconds;
    }
}

/// <summary>How the service and its limit run Torch: device, CPUs (taskset list, null = all) and heap tuning.</summary>
internal sealed record ServiceTorch(string Device, string? Cpus, bool RetainFreedMemory)
{
    public IEnumerable<string> ServiceArguments() =>
        ["--Torch:Device", Device, "--Torch:RetainFreedMemory", RetainFreedMemory ? "true" : "false"];
}
