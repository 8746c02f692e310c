using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.TrainerSidecar.Pipeline;

/// <summary>
/// The stages every checkpoint this project publishes goes through, in order: resolve the parent,
/// assemble the data, train, evaluate, gate, write the manifest, publish, notify. The sidecar's
/// runs (<see cref="Runs.RunExecutor"/>) take all eight; the offline <c>train</c> command starts
/// from scratch into a store of its own, so it has no parent to copy, gate against or notify.
/// The stages both take are here, so that a checkpoint means the same whichever way it was made.
/// Training and evaluation are <see cref="ML.Training.AdversarialTrainer"/> and
/// <see cref="ModelEvaluator"/>; the gate is <see cref="Gate.RobustnessGate"/>.
/// </summary>
internal static class RetrainingPipeline
{
    /// <summary>
    /// Assemble the data: the training split less its held-out validation part, a seeded subset
    /// of the rest (<paramref name="subset"/> images, all when larger) and the examples
    /// <paramref name="extra"/> gives for the data's classes (the feedback log's), appended.
    /// </summary>
    public static RetrainingData AssembleData(DataOptions data, int subset, int seed, Func<IReadOnlyList<string>, ImageDataset?>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (trainPart, validation) = EvaluationProtocol.HoldOut(DatasetCatalog.Load(data, DatasetSplit.Train));
        var train = trainPart.Subset(subset, seed);
        if (extra?.Invoke(train.ClassNames) is not { Count: > 0 } examples)
        {
            return new RetrainingData(data.Dataset, train, validation, 0);
        }

        return new RetrainingData(data.Dataset, train.Concat(examples, $"{train.Name}+{examples.Name}"), validation, examples.Count);
    }

    /// <summary>
    /// Resolve the candidate: a copy of <paramref name="parent"/>'s weights (its architecture,
    /// classes and head; the bytes it was loaded from already verified, not read or hashed again),
    /// or — from scratch — a fresh network of <paramref name="architecture"/> (by default the one
    /// made for the data's image shape) with <paramref name="head"/>. On <paramref name="device"/>.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Candidate(LoadedCheckpoint? parent, RetrainingData data, ClassifierHeadKind head, Device device, string? architecture = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var model = parent is null ? Fresh(architecture ?? NetworkCatalog.For(data.Train.Shape).Name, data, head) : parent.CopyNetwork();
        try
        {
            model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Write the manifest: what the candidate is (its parent, architecture, head, input and
    /// classes), how it was trained, on what, and — from <paramref name="report"/> — what it
    /// scores, its pair hardness and its calibration.
    /// </summary>
    public static CheckpointManifest Manifest(CandidateRecord candidate, RetrainingData data, EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(report);
        var shape = ModelRegistry.Get(candidate.Architecture).InputShape;
        var draft = new CheckpointManifest
        {
            ParentVersion = candidate.ParentVersion,
            Architecture = candidate.Architecture,
            Head = candidate.Head.ToString().ToLowerInvariant(),
            InputShape = [shape.Channels, shape.Height, shape.Width],
            ClassNames = [.. data.Train.ClassNames],
            Training = candidate.Training,
            Dataset = new DatasetRecord { Name = data.Dataset, TrainExamples = data.Train.Count - data.ExtraExamples, FeedbackExamples = data.ExtraExamples },
            Metrics = new MetricsRecord(),
            PairHardness = [],
        };
        return report.ApplyTo(draft);
    }

    /// <summary>
    /// Publish: into <paramref name="store"/> (staged, then renamed into place), then verify what
    /// landed — weights hash, manifest, signature — as a reader will, before anyone is told of it.
    /// </summary>
    public static CheckpointManifest Publish(CheckpointStore store, nn.Module<Tensor, Tensor> model, CheckpointManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(store);
        var published = store.Publish(model, manifest);
        CheckpointReader.Verify(store.FolderOf(published.Version), published.Version, store.Signing);
        return published;
    }

    private static nn.Module<Tensor, Tensor> Fresh(string architecture, RetrainingData data, ClassifierHeadKind head)
    {
        var spec = ModelRegistry.Get(architecture);
        if (spec.InputShape != data.Train.Shape)
        {
            throw new ArgumentException($"{architecture} takes {spec.InputShape} images, but {data.Dataset} has {data.Train.Shape}", nameof(architecture));
        }

        return ModelRegistry.Create(architecture, data.Train.ClassNames.Count, head);
    }
}

/// <summary>The data a candidate is trained on, and the held-out validation part it is measured and calibrated on.</summary>
/// <param name="Dataset">The dataset's name (<c>fashion-mnist</c>, <c>mnist</c>).</param>
/// <param name="ExtraExamples">How many of <paramref name="Train"/>'s images came from the feedback log.</param>
internal sealed record RetrainingData(string Dataset, ImageDataset Train, ImageDataset Validation, int ExtraExamples);

/// <summary>What a candidate is and how it was trained, for its manifest.</summary>
/// <param name="ParentVersion">The checkpoint it was fine-tuned from; null from scratch.</param>
internal sealed record CandidateRecord(string? ParentVersion, string Architecture, ClassifierHeadKind Head, TrainingRecord Training);
