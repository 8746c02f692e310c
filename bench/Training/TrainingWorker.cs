using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HardPair.CommandLine;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Torch;
using HardPair.ML.Training;
using HardPair.Storage.Data;
using TorchSharp;

namespace HardPair.Bench.Training;

/// <summary>
/// One measurement in its own process (so that its peak memory is its own): the production
/// training loop (<see cref="AdversarialTrainer"/>) on real Fashion-MNIST images; steps/s over
/// the steps after the warm-up, from the trainer's own per-step reports.
/// </summary>
internal static class TrainingWorker
{
    public static int Run(CommandArguments line)
    {
        var method = line.Choice("method", null, TrainingObjectives.Names);
        var settings = BenchSettings.From(line);
        line.RejectUnknown(0);

        var runtime = TorchRuntime.Initialize(new TorchRuntimeOptions { Device = settings.Device, Threads = settings.Threads });
        var total = settings.Warmup + settings.Steps;
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train).Take(settings.BatchSize * total);
        torch.manual_seed(1);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, data.ClassNames.Count, ClassifierHeadKind.Cosine);
        model.to(TorchRuntime.Device);
        var objective = TrainingObjectives.Create(method, new ObjectiveOptions
        {
            Epsilon = settings.Epsilon,
            AttackSteps = settings.AttackSteps,
            AttackStepSize = settings.StepSize,
            Scale = 8,
            Beta = 6,
            Seed = 1,
        });
        var clock = new StepClock(settings.Warmup);
        AdversarialTrainer.Train(model, objective, data, new TrainingOptions { Epochs = 1, BatchSize = settings.BatchSize, DecayAt = [] }, TorchRuntime.Device, clock);

        var seconds = clock.TimedSeconds;
        Console.WriteLine(JsonSerializer.Serialize(
            new WorkerResult(
            "hardpair",
            $"TorchSharp {runtime.TorchSharpVersion}",
            method,
            settings.Steps,
            seconds,
            settings.Steps / seconds,
            PeakResidentMiB(),
            torch.get_num_threads()),
            new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        return 0;
    }

    /// <summary>VmHWM: the peak resident set of this process.</summary>
    private static double PeakResidentMiB()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    private sealed class StepClock(int warmup) : IProgress<TrainingProgress>
    {
        private readonly Stopwatch clock = new();

        public double TimedSeconds => clock.Elapsed.TotalSeconds;

        public void Report(TrainingProgress value)
        {
            // The clock starts when the last warm-up step has been reported and runs to the end.
            if (value.Step == warmup)
            {
                clock.Start();
            }
        }
    }
}

/// <summary>What a worker (ours or the Python reference) prints, one JSON line.</summary>
internal sealed record WorkerResult(string Implementation, string Version, string Method, int Steps, double Seconds, double StepsPerSecond, double PeakRssMiB, int Threads);
