using System.Diagnostics;
using System.Text.Json;
using HardPair.CommandLine;
using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Recipes;
using HardPair.ML.Torch;
using HardPair.ML.Training;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using HardPair.TrainerSidecar.Pipeline;
using TorchSharp;

namespace HardPair.TrainerSidecar.Offline;

/// <summary>
/// <c>train</c>: trains a fresh network with one objective on the training split (less the
/// held-out validation part), evaluates it, publishes it into a checkpoint store and verifies
/// what was written. With <c>--snapshots DIR</c> the training state is saved there every
/// <c>--snapshot-every</c> steps and a run started again with the same command resumes from the
/// latest snapshot (a run of hours survives a lost machine); the folder is removed once the model
/// is published.
/// </summary>
internal static class TrainCommand
{
    public static int Run(CommandArguments line, TextWriter output, ConsoleProgress progress, CancellationToken cancellationToken)
    {
        // PGD-AT on a linear head: the best on the validation search (docs/RESULTS.md).
        var method = line.Choice("method", TrainingObjectives.PgdAt, TrainingObjectives.Names);
        var epochs = line.Double(HyperParameters.Epochs.Flag, double.NaN, HyperParameters.Epochs.Min, HyperParameters.Epochs.Max);
        if (double.IsNaN(epochs))
        {
            throw new UsageException("--epochs is required");
        }

        var storePath = line.Required("out");
        var architecture = line.Choice("architecture", SmallCnn.ArchitectureName, ModelRegistry.Names);
        var head = Enum.Parse<ClassifierHeadKind>(line.Choice("head", method is TrainingObjectives.PgdAt or TrainingObjectives.Standard ? "linear" : "cosine", ["cosine", "linear"]), ignoreCase: true);
        var epsilon = line.Value(HyperParameters.Epsilon, EvaluationProtocol.DefaultEpsilon);
        var steps = (int)line.Value(HyperParameters.AttackSteps, HyperParameters.DefaultAttackSteps);
        var defaults = ObjectiveOptions.DefaultsFor(method, head);
        var objectiveOptions = new ObjectiveOptions
        {
            Epsilon = epsilon,
            AttackSteps = steps,
            // 2ε/K: the default 10 steps of 0.02 at ε = 0.1 (docs/SPAT.md), and still reaching the
            // boundary of the ball when a fine-tuning cycle uses fewer steps.
            AttackStepSize = line.Value(HyperParameters.AttackStepSize, Math.Max(2 * epsilon / steps, HyperParameters.AttackStepSize.Min)),
            Scale = line.Value(HyperParameters.Scale, defaults.Scale),
            Beta = line.Value(HyperParameters.Beta, defaults.Beta),
            Margin = line.Value(HyperParameters.Margin, defaults.Margin),
            ConsistencyWeight = line.Value(HyperParameters.ConsistencyWeight, defaults.ConsistencyWeight),
            DetachWeights = line.Choice("detach-weights", "true", ["true", "false"]) == "true",
            ClampWeights = line.Choice("clamp-weights", "true", ["true", "false"]) == "true",
            PartnerMargin = line.Value(HyperParameters.PartnerMargin, defaults.PartnerMargin),
            PartnerAttackShare = line.Value(HyperParameters.PartnerAttackShare, defaults.PartnerAttackShare),
            Seed = line.Int("seed", 1, 0, int.MaxValue),
        };
        var training = new TrainingOptions
        {
            Epochs = epochs,
            // The validation search's recipe (docs/RESULTS.md) unless the command names its own.
            LearningRate = line.Value(HyperParameters.LearningRate, HyperParameters.SearchedLearningRate),
            BatchSize = (int)line.Value(HyperParameters.BatchSize, HyperParameters.DefaultBatchSize),
            WeightDecay = line.Value(HyperParameters.WeightDecay, HyperParameters.SearchedWeightDecay),
            Schedule = Enum.Parse<LearningRateSchedule>(line.Choice("schedule", "onecycle", ["step", "cosine", "onecycle"]), ignoreCase: true),
            EmaDecay = line.Value(HyperParameters.Ema, HyperParameters.SearchedEmaDecay),
            Seed = objectiveOptions.Seed,
        };
        var trainSubset = line.Int("train-subset", int.MaxValue, 1, int.MaxValue);
        var (robustSubset, cleanSubset) = OfflineCommands.TestSubsets(line);
        var attacks = OfflineCommands.Attacks(line);
        var dataOptions = OfflineCommands.Data(line);
        var signing = Signing(line.Optional("signing-key-file"));
        var partners = OfflineCommands.FixedPartners(line.Optional("partners"), DatasetCatalog.ClassNames(dataOptions.Dataset).Count);
        var split = OfflineCommands.Split(line);
        var snapshotFolder = line.Optional("snapshots");
        var snapshotEvery = line.Int("snapshot-every", 100, 1, int.MaxValue);
        OfflineCommands.StartTorch(line);
        line.RejectUnknown(0);

        var data = RetrainingPipeline.AssembleData(dataOptions, trainSubset, objectiveOptions.Seed);
        var train = data.Train;
        var measured = OfflineCommands.Measured(split, data.Validation, dataOptions);
        var test = measured.Take(cleanSubset);
        if (ModelRegistry.Get(architecture).InputShape != train.Shape)
        {
            throw new UsageException($"--architecture {architecture} takes {ModelRegistry.Get(architecture).InputShape} images, but {dataOptions.Dataset} has {train.Shape}");
        }

        var device = TorchRuntime.Device;
        progress.Report($"training {architecture} ({head.ToString().ToLowerInvariant()} head) with {method} on {train.Count} images for {epochs} epoch(s) on {device}");
        torch.manual_seed(objectiveOptions.Seed);
        using var model = RetrainingPipeline.Candidate(parent: null, data, head, device, architecture);
        var stepsPerEpoch = (train.Count + training.BatchSize - 1) / training.BatchSize;
        var hyperParameters = new Dictionary<string, double>(objectiveOptions.ToDictionary(method), StringComparer.Ordinal)
        {
            ["learningRate"] = training.LearningRate,
            ["batchSize"] = training.BatchSize,
            ["momentum"] = training.Momentum,
            ["weightDecay"] = training.WeightDecay,
            ["schedule"] = (int)training.Schedule,
            ["ema"] = training.EmaDecay,
        };
        // About 100 points over the run: enough for a curve, small enough for the JSON summary.
        var window = Math.Max(1, (int)Math.Ceiling(stepsPerEpoch * epochs / 100));
        var snapshots = snapshotFolder is null ? null : new TrainingSnapshotOptions(snapshotFolder, snapshotEvery);
        var resumable = snapshots is null ? null : TrainingSnapshots.Latest(snapshots.Folder);
        if (snapshots is not null)
        {
            KeepOrMatchRun(snapshots.Folder, new SnapshotRun(method, architecture, head.ToString().ToLowerInvariant(), epochs, train.Name, train.Count, hyperParameters));
        }

        if (resumable is not null)
        {
            progress.Report($"resuming from the snapshot after step {resumable.Step} in {snapshotFolder}");
        }

        // A resumed run's curve continues the one kept beside its snapshots.
        var history = snapshots is null
            ? new TrainingHistory(window, progress)
            : new TrainingHistory(window, progress, Path.Combine(Directory.CreateDirectory(snapshots.Folder).FullName, "history.json"), resumable?.Step ?? 0);
        var clock = Stopwatch.StartNew();
        var outcome = AdversarialTrainer.Train(model, TrainingObjectives.Create(method, objectiveOptions), train, training, device, history, cancellationToken, snapshots);
        var trainSeconds = clock.Elapsed.TotalSeconds;

        progress.Report($"evaluating: clean on {test.Count} {split} images, attacks on the first {Math.Min(robustSubset, test.Count)}: {string.Join(", ", attacks)}");
        var report = ModelEvaluator.Evaluate(
            model,
            new EvaluationPlan { Test = test, RobustExamples = robustSubset, Validation = data.Validation, Attacks = attacks, Epsilon = epsilon, LogitScale = objectiveOptions.Scale },
            device,
            progress,
            cancellationToken);

        cancellationToken.ThrowIfCancellationRequested();
        var record = new CandidateRecord(
            ParentVersion: null,
            architecture,
            head,
            new TrainingRecord { Method = method, HyperParameters = hyperParameters, Epochs = epochs, Seed = objectiveOptions.Seed, Device = device.ToString() });
        var store = new CheckpointStore(storePath, TimeProvider.System, signing);
        var published = RetrainingPipeline.Publish(store, model, RetrainingPipeline.Manifest(record, data, report));
        var folder = store.FolderOf(published.Version);
        progress.Report($"published and verified {folder}");
        if (snapshots is not null)
        {
            Directory.Delete(snapshots.Folder, recursive: true);
        }

        var evaluation = EvaluationSummary.From(folder, published, report).WithFixedPartners(report, partners) with { Split = split };
        var summary = new TrainSummary(folder, published.Version, method, epochs, train.Count, Math.Round(trainSeconds, 1), outcome.ResumedFromStep, evaluation, history.Points);
        output.WriteLine(JsonSerializer.Serialize(summary, EvaluationSummary.Json));
        return OfflineCommands.Ok;
    }

    /// <summary>
    /// Records what the snapshots in <paramref name="folder"/> are of, or — when they are another
    /// run's (other method, budget, data or settings) — refuses to resume from them.
    /// </summary>
    private static void KeepOrMatchRun(string folder, SnapshotRun run)
    {
        var path = Path.Combine(Directory.CreateDirectory(folder).FullName, "run.json");
        var json = JsonSerializer.Serialize(run with { HyperParameters = new SortedDictionary<string, double>(run.HyperParameters, StringComparer.Ordinal) });
        if (!File.Exists(path))
        {
            var staging = $"{path}.{Guid.NewGuid():N}.tmp";
            DurableFiles.WriteAllBytes(staging, System.Text.Encoding.UTF8.GetBytes(json));
            File.Move(staging, path);
            return;
        }

        if (File.ReadAllText(path) != json)
        {
            throw new UsageException($"--snapshots {folder} holds another run's training state (its run.json differs from this command's settings): give another folder, or remove it to start over");
        }
    }

    /// <summary>The key in <paramref name="keyFile"/> (trimmed; an HMAC key or a PEM ECDSA private key), or no signing.</summary>
    private static CheckpointSigning Signing(string? keyFile)
    {
        if (keyFile is null)
        {
            return CheckpointSigning.None;
        }

        if (!File.Exists(keyFile))
        {
            throw new UsageException($"--signing-key-file {keyFile} does not exist");
        }

        CheckpointSigning signing;
        try
        {
            signing = CheckpointSigning.WithKey(File.ReadAllText(keyFile).Trim());
        }
        catch (SigningKeyException ex)
        {
            throw new UsageException($"--signing-key-file {keyFile}: {ex.Message}");
        }

        return signing.CanSign
            ? signing
            : throw new UsageException($"--signing-key-file {keyFile} holds an {signing.Kind}: signing needs the private key");
    }

    /// <param name="TrainSeconds">This process's training time: a resumed run's earlier processes are not counted.</param>
    private sealed record SnapshotRun(string Method, string Architecture, string Head, double Epochs, string Data, int TrainExamples, IDictionary<string, double> HyperParameters);

    private sealed record TrainSummary(string Checkpoint, string Version, string Method, double Epochs, int TrainExamples, double TrainSeconds, int ResumedFromStep, EvaluationSummary Evaluation, IReadOnlyList<TrainingHistoryPoint> History);
}
