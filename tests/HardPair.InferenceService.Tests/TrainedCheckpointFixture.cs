using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Training;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.InferenceService.Tests;

/// <summary>
/// A small-cnn trained for two epochs on 12 000 Fashion-MNIST images and evaluated by the real
/// protocol (FGSM confusion → pair hardness, temperature on held-out data), published into a
/// store that tests copy from. Trained once per test run, when the first class asks for it, and
/// shared by every class that takes it (xunit makes one fixture object per class; they all hand
/// out the same checkpoint). Its folder is removed when the test process exits.
/// </summary>
public sealed class TrainedCheckpointFixture
{
    private static readonly Lazy<Trained> Shared = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Trained trained = Shared.Value;

    /// <summary>A small suite the checkpoint is evaluated with, so that its manifest's robust accuracy is a worst case.</summary>
    public const string Suite = "apgd-ce5+square20";

    public string Version => trained.Version;

    public string Folder => trained.Folder;

    public ImageDataset Test => trained.Test;

    public EvaluationReport Report => trained.Report;

    /// <summary>Copies the checkpoint into <paramref name="store"/>, optionally under another version name.</summary>
    public string CopyInto(string store, string? version = null)
    {
        version ??= Version;
        // Staged beside the store and renamed in, as the store's own publish does.
        var target = Path.Combine(store, $".copy-{Guid.NewGuid():N}");
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(Folder))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        if (version != Version)
        {
            var manifestPath = Path.Combine(target, CheckpointFiles.Manifest);
            File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace(Version, version, StringComparison.Ordinal));
        }

        Directory.Move(target, Path.Combine(store, version));
        return version;
    }

    private static Trained Train()
    {
        var source = new TempDirectory();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => source.Dispose();
        torch.manual_seed(2);
        var (trainPart, validation) = EvaluationProtocol.HoldOut(DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train));
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        var objective = TrainingObjectives.Create(TrainingObjectives.Standard, new ObjectiveOptions { Scale = 1 });
        AdversarialTrainer.Train(model, objective, trainPart.Subset(12_000, seed: 2), new TrainingOptions { Epochs = 2 }, torch.CPU);
        var report = ModelEvaluator.Evaluate(model, new EvaluationPlan { Test = test.Take(1000), Validation = validation.Take(2000), Attacks = ["clean", "fgsm", Suite] }, torch.CPU);
        var draft = TestCheckpoints.Draft(head: ClassifierHeadKind.Linear) with
        {
            Training = new TrainingRecord { Method = "standard", HyperParameters = new() { ["scale"] = 1, ["epsilon"] = 0.1 } },
        };
        var store = new CheckpointStore(source.Path, TimeProvider.System);
        var version = store.Publish(model, report.ApplyTo(draft)).Version;
        return new Trained(version, Path.Combine(store.Root, version), test, report);
    }

    private sealed record Trained(string Version, string Folder, ImageDataset Test, EvaluationReport Report);
}
