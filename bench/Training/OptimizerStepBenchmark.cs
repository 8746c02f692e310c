using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HardPair.CommandLine;
using HardPair.ML.Models;
using HardPair.ML.Torch;
using HardPair.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Bench.Training;

/// <summary>
/// The optimizer step on its own — zero the gradients, then one SGD update (momentum 0.9, weight
/// decay 2e-4) of small-cnn's parameters — with TorchSharp's <c>optim.SGD</c> (five calls per
/// parameter) and with <see cref="FlatSgd"/> (four in all), in the same process, alternating
/// rounds; on an accelerator each timed block ends with a device synchronisation.
/// </summary>
internal static class OptimizerStepBenchmark
{
    public static async Task<int> RunAsync(CommandArguments line, string root)
    {
        var device = line.Choice("device", "cpu", ["cpu", "cuda"]);
        var threads = line.Int("threads", 2, 1, 256);
        var steps = line.Int("steps", 2000, 10, 1_000_000);
        var rounds = line.Int("rounds", 5, 1, 100);
        var output = line.Optional("out") ?? Path.Combine(root, "bench", "results", $"optimizer-step-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}");
        line.RejectUnknown(0);
        Directory.CreateDirectory(output);

        TorchRuntime.Initialize(new TorchRuntimeOptions { Device = device, Threads = threads });
        torch.manual_seed(1);
        using var perParameterModel = NewModel();
        torch.manual_seed(1);
        using var flatModel = NewModel();
        using var perParameter = torch.optim.SGD(perParameterModel.parameters(), 0.05, 0.9, weight_decay: 2e-4);
        using var flat = new FlatSgd(flatModel.parameters(), 0.05, 0.9, 2e-4);
        FillGradients(perParameterModel);
        FillGradients(flatModel);
        var parameterCount = perParameterModel.parameters().Count();

        var perParameterMicroseconds = new List<double>();
        var flatMicroseconds = new List<double>();
        Time(() => { perParameter.zero_grad(); perParameter.step(); }, steps / 10);
        Time(() => { flat.ZeroGrad(); flat.Step(); }, steps / 10);
        for (var round = 0; round < rounds; round++)
        {
            var a = Time(() => { perParameter.zero_grad(); perParameter.step(); }, steps);
            var b = Time(() => { flat.ZeroGrad(); flat.Step(); }, steps);
            perParameterMicroseconds.Add(a);
            flatMicroseconds.Add(b);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round + 1}: optim.SGD {a:0.0} µs, FlatSgd {b:0.0} µs per step"));
        }

        var perParameterMedian = Median(perParameterMicroseconds);
        var flatMedian = Median(flatMicroseconds);
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"small-cnn ({parameterCount} parameter tensors), {TorchRuntime.Device}, {threads} threads, {steps} steps per round, median of {rounds} rounds"));
        Console.WriteLine("| optimizer | µs per zero + step (median) | rounds (min–max) |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(string.Create(c, $"| optim.SGD (per parameter) | {perParameterMedian:0.0} | {perParameterMicroseconds.Min():0.0}–{perParameterMicroseconds.Max():0.0} |"));
        Console.WriteLine(string.Create(c, $"| FlatSgd | {flatMedian:0.0} | {flatMicroseconds.Min():0.0}–{flatMicroseconds.Max():0.0} |"));
        Console.WriteLine(string.Create(c, $"FlatSgd takes {flatMedian / perParameterMedian:0.00} of optim.SGD's time"));
        var json = JsonSerializer.Serialize(
            new
            {
                Device = device,
                Threads = threads,
                Steps = steps,
                ParameterTensors = parameterCount,
                PerParameterMicroseconds = perParameterMicroseconds,
                FlatMicroseconds = flatMicroseconds,
                Ratio = flatMedian / perParameterMedian,
            },
            new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(output, "optimizer-step.json"), json);
        Console.WriteLine($"wrote {Path.Combine(output, "optimizer-step.json")}");
        return 0;
    }

    private static nn.Module<Tensor, Tensor> NewModel()
    {
        var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        model.to(TorchRuntime.Device);
        return model;
    }

    /// <summary>One backward pass, so that every parameter has a gradient tensor to update from.</summary>
    private static void FillGradients(nn.Module<Tensor, Tensor> model)
    {
        using var scope = torch.NewDisposeScope();
        var images = torch.rand(8, 1, 28, 28, device: TorchRuntime.Device);
        model.forward(images).square().sum().backward();
    }

    /// <summary>Microseconds per call of <paramref name="step"/> over <paramref name="count"/> calls.</summary>
    private static double Time(Action step, int count)
    {
        Synchronize();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            step();
        }

        Synchronize();
        return clock.Elapsed.TotalMicroseconds / count;
    }

    private static void Synchronize()
    {
        if (TorchRuntime.Device.type == DeviceType.CUDA)
        {
            torch.cuda.synchronize();
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
