using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using HardPair.ML.Attacks;
using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Recipes;
using HardPair.ML.Torch;
using HardPair.ML.Training;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using HardPair.TrainerSidecar.Feedback;
using HardPair.TrainerSidecar.Gate;
using HardPair.TrainerSidecar.Options;
using HardPair.TrainerSidecar.Publishing;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// One run, start to end: fine-tune from the serving checkpoint (or from scratch) on the base
/// subset plus the feedback log, measure candidate and serving model on the same held-out images,
/// gate, publish, notify. Synchronous tensor work; called on a dedicated thread.
/// </summary>
public sealed partial class RunExecutor(
    RunCoordinator coordinator,
    RunStore runStore,
    CheckpointStore checkpoints,
    FeedbackLog feedback,
    ICheckpointNotifier notifier,
    IOptions<TrainerOptions> options,
    IOptions<DataOptions> dataOptions,
    TrainerMetrics metrics,
    ILogger<RunExecutor> logger)
{
    private readonly TrainerOptions options = options.Value;

    internal RunCoordinator Coordinator => coordinator;

    internal TrainerMetrics Metrics => metrics;

    public void Execute(Run run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        var id = run.RunId;
        using var span = TrainerTracing.Source.StartActivity(TrainerTracing.RunSpan, ActivityKind.Internal, parentContext: default);
        span?.SetTag("hardpair.run.id", id);
        span?.SetTag("hardpair.run.method", run.Method);
        span?.SetTag("hardpair.run.trigger", run.Trigger.ToString());
        try
        {
            var outcome = Execute(run.RunId, run, cancellationToken);
            metrics.RunFinished(outcome.Phase);
            span?.SetTag("hardpair.run.phase", outcome.Phase.ToString());
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // CancelRun ends the run; shutdown leaves it and its snapshot for the next start to resume.
            coordinator.Stopped(id);
            span?.SetTag("hardpair.run.phase", "stopped");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogRunFailed(logger, ex, id);
            coordinator.Complete(id, RunPhase.Failed, ex.Message);
            metrics.RunFinished(RunPhase.Failed);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            span?.SetTag("hardpair.run.phase", RunPhase.Failed.ToString());
        }
    }

    private Run Execute(string id, Run run, CancellationToken cancellationToken)
    {
        var device = TorchRuntime.Device;
        var serving = checkpoints.Serving();
        // A run without a method of its own continues the serving checkpoint's recipe: its method
        // and its objective's hyper-parameters, unless the run overrides them.
        var servingTraining = serving?.Manifest?.Training;
        var inherited = run.Method == TrainerOptions.ServingMethod && servingTraining is not null && TrainingObjectives.Names.Contains(servingTraining.Method);
        // With nothing serving: PGD-AT on a linear head, the best on the validation search
        // (docs/RESULTS.md); a run that names another method gets the head that method is made for.
        var method = run.Method != TrainerOptions.ServingMethod ? run.Method : inherited ? servingTraining!.Method : TrainingObjectives.PgdAt;
        var head = serving?.Manifest?.Head is { } servingHead
            ? System.Enum.Parse<ClassifierHeadKind>(servingHead, ignoreCase: true)
            : method is TrainingObjectives.PgdAt or TrainingObjectives.Standard ? ClassifierHeadKind.Linear : ClassifierHeadKind.Cosine;
        var objectiveOptions = ObjectiveOptionsFor(run, method, inherited ? servingTraining!.HyperParameters : null, head);
        var training = TrainingOptionsFor(run, inherited ? servingTraining!.HyperParameters : null, serving is null, objectiveOptions.Seed);

        var (trainPart, validation) = EvaluationProtocol.HoldOut(DatasetCatalog.Load(dataOptions.Value, DatasetSplit.Train));
        var dataSeed = DataSeed(run, options.Seed);
        var data = trainPart.Subset(run.TrainExamples, dataSeed);
        var feedbackCount = 0;
        if (run.HyperParameters.GetValueOrDefault("excludeFeedback") == 0 && feedback.Count > 0)
        {
            var examples = feedback.Read("feedback", data.ClassNames);
            feedbackCount = examples.Count;
            data = data.Concat(examples, $"{data.Name}+feedback");
        }

        coordinator.Update(id, r =>
        {
            r.Phase = RunPhase.Training;
            r.StartedAt ??= Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
            r.Device = device.ToString();
            r.ParentVersion = serving?.Version ?? "";
            r.Method = method;
            r.FeedbackExamples = feedbackCount;
            r.HyperParameters["learningRate"] = training.LearningRate;
            r.HyperParameters["epochs"] = training.Epochs;
            r.HyperParameters["weightDecay"] = training.WeightDecay;
            r.HyperParameters["schedule"] = (int)training.Schedule;
            r.HyperParameters["ema"] = training.EmaDecay;
            r.HyperParameters["dataSeed"] = dataSeed;
            foreach (var (name, value) in objectiveOptions.ToDictionary(method))
            {
                r.HyperParameters[name] = value;
            }
        }, serving is null ? "training from scratch" : $"fine-tuning {serving.Version}");

        using var servingModel = serving is null ? null : checkpoints.Load(serving.Version, device);
        using var model = servingModel is null
            ? ModelRegistry.Create(SmallCnn.ArchitectureName, data.ClassNames.Count, head)
            : checkpoints.Load(serving!.Version, device).Model;
        model.to(device);
        var throttle = new DutyCycle(options.DutyCycle);
        var progress = new Progress(this, id, throttle);
        var outcome = AdversarialTrainer.Train(
            model,
            TrainingObjectives.Create(method, objectiveOptions),
            data,
            training,
            device,
            progress,
            cancellationToken,
            new TrainingSnapshotOptions(runStore.SnapshotFolder(id), options.SnapshotEvery));
        cancellationToken.ThrowIfCancellationRequested();

        coordinator.Update(id, r => r.Phase = RunPhase.Evaluating, outcome.ResumedFromStep > 0 ? $"resumed at step {outcome.ResumedFromStep}; evaluating" : "evaluating");
        var epsilon = servingModel?.Manifest.Training.HyperParameters.GetValueOrDefault("epsilon", objectiveOptions.Epsilon) ?? objectiveOptions.Epsilon;
        var gateData = validation.Take(options.Gate.Examples);
        var gateAttack = options.Gate.Attack;
        var candidate = Measure(model, gateData, gateAttack, epsilon, objectiveOptions.Scale, device, cancellationToken);
        metrics.CandidateMeasured(candidate.RobustAccuracy);
        var servingMeasured = servingModel is null
            ? null
            : Measure(servingModel.Model, gateData, gateAttack, epsilon, servingModel.Manifest.Training.HyperParameters.GetValueOrDefault("scale", 1.0), device, cancellationToken);
        var decision = RobustnessGate.Decide(candidate, servingMeasured, serving?.Version, Finite(model), options.Gate);
        var test = DatasetCatalog.Load(dataOptions.Value, DatasetSplit.Test).Take(options.Gate.TestExamples);
        var report = ModelEvaluator.Evaluate(
            model,
            new EvaluationPlan { Test = test, Validation = validation, Attacks = [AttackCatalog.Clean, gateAttack], Epsilon = epsilon, LogitScale = objectiveOptions.Scale },
            device,
            progress: null,
            cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        coordinator.Update(id, r =>
        {
            r.Gate = decision;
            r.Evaluation = new RunEvaluation
            {
                CleanAccuracy = report.Clean.Accuracy,
                RobustAccuracy = report.Robust[0].Accuracy,
                RobustAttack = gateAttack,
                Epsilon = epsilon,
                HardPairShare = report.HardPairShare ?? 0,
                Temperature = report.Temperature,
                Examples = report.TestExamples,
            };
        }, decision.Reason);

        if (!decision.Accepted)
        {
            LogRejected(logger, id, decision.Reason);
            metrics.GateRejected();
            return coordinator.Complete(id, RunPhase.Rejected, decision.Reason);
        }

        coordinator.Update(id, r => r.Phase = RunPhase.Publishing, "publishing");
        var spec = ModelRegistry.Get(SmallCnn.ArchitectureName);
        var draft = new CheckpointManifest
        {
            ParentVersion = serving?.Version,
            Architecture = servingModel?.Manifest.Architecture ?? SmallCnn.ArchitectureName,
            Head = servingModel?.Manifest.Head ?? head.ToString().ToLowerInvariant(),
            InputShape = [spec.InputShape.Channels, spec.InputShape.Height, spec.InputShape.Width],
            ClassNames = [.. data.ClassNames],
            Training = new TrainingRecord
            {
                Method = method,
                HyperParameters = new Dictionary<string, double>(coordinator.Get(id)!.HyperParameters, StringComparer.Ordinal),
                Epochs = training.Epochs,
                Seed = training.Seed,
                Device = device.ToString(),
                RunId = id,
            },
            Dataset = new DatasetRecord { Name = dataOptions.Value.Dataset, TrainExamples = data.Count - feedbackCount, FeedbackExamples = feedbackCount },
            Metrics = new MetricsRecord(),
            PairHardness = [],
        };
        var published = checkpoints.Publish(model, report.ApplyTo(draft));
        metrics.Published();
        coordinator.Update(id, r => r.PublishedVersion = published.Version, $"published {published.Version}");
        LogPublished(logger, id, published.Version);
        try
        {
            notifier.Notify(published.Version, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The checkpoint has landed: a cancel (or shutdown) now stops only the notification,
            // and the inference service also watches the store. Once published, a run is Published.
            LogNotificationCancelled(logger, id, published.Version);
        }

        return coordinator.Complete(id, RunPhase.Published, $"published {published.Version}");
    }

    /// <summary>
    /// The seed of the run's training subset: the run's <c>dataSeed</c> or <c>seed</c> when it
    /// names one, else one drawn from its id — so that successive cycles train on different images
    /// of the training part (not the same subset every time), and a resumed run on the same ones.
    /// </summary>
    internal static int DataSeed(Run run, int seed)
    {
        if (run.HyperParameters.TryGetValue("dataSeed", out var own) || run.HyperParameters.TryGetValue("seed", out own))
        {
            return (int)own;
        }

        var digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{seed}/{run.RunId}"));
        return BitConverter.ToInt32(digest, 0) & int.MaxValue;
    }

    /// <summary>
    /// The objective's settings: the run's own, else — for a run that continues the serving
    /// checkpoint's recipe — that checkpoint's (<paramref name="serving"/>: its manifest's
    /// hyper-parameters), else the defaults. The training attack's steps are the sidecar's budget
    /// (<c>Trainer:AttackSteps</c>), not inherited.
    /// </summary>
    private ObjectiveOptions ObjectiveOptionsFor(Run run, string method, IReadOnlyDictionary<string, double>? serving, ClassifierHeadKind head)
    {
        var p = run.HyperParameters;
        var defaults = ObjectiveOptions.DefaultsFor(method, head);
        double Value(string name, double fallback) =>
            p.TryGetValue(name, out var own) ? own : serving is not null && serving.TryGetValue(name, out var inherited) ? inherited : fallback;
        var epsilon = Value("epsilon", options.Epsilon);
        var steps = (int)p.GetValueOrDefault("attackSteps", options.AttackSteps);
        return new ObjectiveOptions
        {
            Epsilon = epsilon,
            AttackSteps = steps,
            AttackStepSize = p.GetValueOrDefault("attackStepSize", 2 * epsilon / steps),
            Beta = Value("beta", defaults.Beta),
            Scale = Value("scale", defaults.Scale),
            Margin = Value("margin", defaults.Margin),
            ConsistencyWeight = Value("consistencyWeight", defaults.ConsistencyWeight),
            DetachWeights = Value("detachWeights", defaults.DetachWeights ? 1 : 0) != 0,
            ClampWeights = Value("clampWeights", defaults.ClampWeights ? 1 : 0) != 0,
            PartnerMargin = Value("partnerMargin", defaults.PartnerMargin),
            PartnerAttackShare = Value("partnerAttackShare", defaults.PartnerAttackShare),
            Seed = (int)p.GetValueOrDefault("seed", options.Seed),
        };
    }

    /// <summary>
    /// The optimizer's recipe: the budget and learning rate are the sidecar's (or the run's own);
    /// weight decay, the schedule's shape and the weight average are the run's own, else — for a
    /// run that continues the serving checkpoint's recipe — that checkpoint's, else the validation
    /// search's (docs/RESULTS.md: one-cycle, weight decay 5e-4, an average with decay 0.995).
    /// </summary>
    private TrainingOptions TrainingOptionsFor(Run run, IReadOnlyDictionary<string, double>? serving, bool fromScratch, int seed)
    {
        var p = run.HyperParameters;
        double Value(string name, double fallback) =>
            p.TryGetValue(name, out var own) ? own : serving is not null && serving.TryGetValue(name, out var inherited) ? inherited : fallback;
        return new TrainingOptions
        {
            Epochs = p.GetValueOrDefault("epochs", options.Epochs),
            LearningRate = p.GetValueOrDefault("learningRate", fromScratch ? options.ScratchLearningRate : options.LearningRate),
            BatchSize = (int)p.GetValueOrDefault("batchSize", options.BatchSize),
            WeightDecay = Value("weightDecay", HyperParameters.SearchedWeightDecay),
            Schedule = (LearningRateSchedule)(int)Value("schedule", (int)LearningRateSchedule.OneCycle),
            EmaDecay = Value("ema", HyperParameters.SearchedEmaDecay),
            Seed = seed,
        };
    }

    private static GateMeasurement Measure(nn.Module<Tensor, Tensor> model, ImageDataset data, string attack, double epsilon, double scale, Device device, CancellationToken cancellationToken)
    {
        var clean = RobustnessEvaluator.Run(model, data, null, 250, device, cancellationToken);
        var robust = RobustnessEvaluator.Run(model, data, AttackCatalog.Create(attack, epsilon, scale, seed: 0), 250, device, cancellationToken);
        return new GateMeasurement(clean.Accuracy, robust.Accuracy);
    }

    /// <summary>A fresh network of the checkpoint's architecture and classes holding a copy of its weights (buffers included), on the CPU: the bytes already verified, not read or hashed again.</summary>
    private static nn.Module<Tensor, Tensor> CopyOf(LoadedCheckpoint serving, ClassifierHeadKind head)
    {
        byte[] weights;
        using (var buffer = new MemoryStream())
        {
            serving.Model.save(buffer);
            weights = buffer.ToArray();
        }

        var copy = ModelRegistry.Create(serving.Manifest.Architecture, serving.Manifest.ClassNames.Length, head);
        try
        {
            using var stream = new MemoryStream(weights, writable: false);
            copy.load(stream, strict: true);
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    private static bool Finite(nn.Module<Tensor, Tensor> model)
    {
        using var scope = torch.NewDisposeScope();
        return model.parameters().All(p => p.isfinite().all().item<bool>());
    }

    /// <summary>Reports steps to the coordinator (in memory; durable state is the snapshot) and applies the duty cycle.</summary>
    private sealed class Progress(RunExecutor owner, string runId, DutyCycle throttle) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            owner.Metrics.Step(value);
            owner.Coordinator.Update(
                runId,
                r =>
                {
                    r.Step = value.Step;
                    r.TotalSteps = value.TotalSteps;
                    r.Loss = value.Loss;
                },
                persist: value.Step % owner.options.SnapshotEvery == 0 || value.Step == value.TotalSteps,
                examplesPerSecond: value.ExamplesPerSecond);
            throttle.AfterStep();
        }
    }

    /// <summary>Sleeps after each step so that training takes only its share of the wall time.</summary>
    private sealed class DutyCycle(double share)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();

        public void AfterStep()
        {
            var worked = clock.Elapsed;
            if (share < 1)
            {
                Thread.Sleep(worked * ((1 - share) / share));
            }

            clock.Restart();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} failed")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} rejected by the gate: {Reason}")]
    private static partial void LogRejected(ILogger logger, string runId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: cancelled while notifying the inference service of {Version}; the run stays published and the service finds the version in the store")]
    private static partial void LogNotificationCancelled(ILogger logger, string runId, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} published {Version}")]
    private static partial void LogPublished(ILogger logger, string runId, string version);
}
