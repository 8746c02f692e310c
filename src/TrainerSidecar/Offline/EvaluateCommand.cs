using System.Text.Json;
using HardPair.CommandLine;
using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;

namespace HardPair.TrainerSidecar.Offline;

/// <summary>
/// <c>evaluate</c>: verifies and loads a checkpoint and runs the evaluation protocol on it:
/// attacks on the first test images, temperature fitted on the held-out validation part.
/// </summary>
internal static class EvaluateCommand
{
    public static int Run(CommandArguments line, TextWriter output, ConsoleProgress progress, CancellationToken cancellationToken)
    {
        var path = line.Required("checkpoint");
        var attacks = OfflineCommands.Attacks(line);
        var (robustSubset, cleanSubset) = OfflineCommands.TestSubsets(line);
        var seed = line.Int("seed", 0, 0, int.MaxValue);
        var epsilon = line.Double("epsilon", EvaluationProtocol.DefaultEpsilon, 0, 1);
        var json = line.Flag("json");
        var data = OfflineCommands.Data(line);
        var partnersOption = line.Optional("partners");
        var split = OfflineCommands.Split(line);
        OfflineCommands.StartTorch(line);
        line.RejectUnknown(0);

        var folder = ResolveCheckpoint(path);
        using var checkpoint = CheckpointLoader.Load(folder, TorchRuntime.Device);
        var manifest = checkpoint.Manifest;
        var dataset = new DataOptions { Dataset = manifest.Dataset.Name, Folder = data.Folder };
        var (_, validation) = EvaluationProtocol.HoldOut(DatasetCatalog.Load(dataset, DatasetSplit.Train));
        var measured = OfflineCommands.Measured(split, validation, dataset);
        var partners = OfflineCommands.FixedPartners(partnersOption, measured.ClassNames.Count);
        var test = measured.Take(cleanSubset);
        var scale = manifest.Training.HyperParameters.GetValueOrDefault("scale", 1.0);

        progress.Report($"evaluating {manifest.Version}: clean on {test.Count} {split} images, attacks on the first {Math.Min(robustSubset, test.Count)} (seed {seed}): {string.Join(", ", attacks)}");
        var report = ModelEvaluator.Evaluate(
            checkpoint.Model,
            new EvaluationPlan { Test = test, RobustExamples = robustSubset, Validation = validation, Attacks = attacks, Epsilon = epsilon, LogitScale = scale, Seed = seed },
            TorchRuntime.Device,
            progress,
            cancellationToken);

        var summary = EvaluationSummary.From(folder, manifest, report, seed).WithFixedPartners(report, partners) with { Split = split };
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(summary, EvaluationSummary.Json));
        }
        else
        {
            summary.WriteTable(output);
        }

        return OfflineCommands.Ok;
    }

    /// <summary>A checkpoint folder as given, or a store's latest valid version.</summary>
    private static string ResolveCheckpoint(string path)
    {
        if (!Directory.Exists(path))
        {
            throw new CheckpointException(path, "no such folder");
        }

        if (File.Exists(Path.Combine(path, CheckpointFiles.Manifest)))
        {
            return path;
        }

        var latest = new CheckpointStore(path, TimeProvider.System).Latest()
            ?? throw new CheckpointException(path, "neither a checkpoint folder nor a store with a valid checkpoint");
        return latest.Folder;
    }
}
