using System.Diagnostics;
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
using HardPair.TrainerSidecar.Pipeline;
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

    public void Execute(TrainingRun run, CancellationToken cancellationToken)
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

    private TrainingRun Execute(string id, TrainingRun run, CancellationToken cancellationToken)
    {
        var device = TorchRuntime.Device;

        // Resolve the parent: the serving checkpoint, verified and loaded once for the whole run.
        var serving = checkpoints.Serving();
        using var parent = serving is null ? null : checkpoints.Load(serving.Version, device);
        var recipe = RecipeFor(run, parent?.Manifest);

        // Assemble the data: a subset of the training part plus the feedback log.
        var dataSeed = DataSeed(run, options.Seed);
        var withFeedback = run.HyperParameters.GetValueOrDefault(RunSettings.ExcludeFeedback) == 0 && feedback.Count > 0;
        var data = RetrainingPipeline.AssembleData(dataOptions.Value, run.TrainExamples, dataSeed, withFeedback ? classes => feedback.Read("feedback", classes) : null);
        var resolved = new Dictionary<string, double>(recipe.Objective.ToDictionary(recipe.Method), StringComparer.Ordinal)
        {
            [HyperParameters.LearningRate.Name] = recipe.Training.LearningRate,
            [HyperParameters.Epochs.Name] = recipe.Training.Epochs,
            [HyperParameters.WeightDecay.Name] = recipe.Training.WeightDecay,
            [HyperParameters.Schedule.Name] = (int)recipe.Training.Schedule,
            [HyperParameters.Ema.Name] = recipe.Training.EmaDecay,
            [HyperParameters.DataSeed.Name] = dataSeed,
        };
        var started = coordinator.Update(
            id,
            r => r.WithHyperParameters(resolved) with
            {
                Phase = RunPhase.Training,
                StartedAt = r.StartedAt ?? DateTimeOffset.UtcNow,
                Device = device.ToString(),
                ParentVersion = parent?.Manifest.Version ?? "",
                Method = recipe.Method,
                FeedbackExamples = data.ExtraExamples,
            },
            parent is null ? "training from scratch" : $"fine-tuning {parent.Manifest.Version}");

        // Train: a copy of the parent's weights (or a fresh network), resumable from its snapshots.
        using var model = RetrainingPipeline.Candidate(parent, data, recipe.Head, device);
        var outcome = AdversarialTrainer.Train(
            model,
            TrainingObjectives.Create(recipe.Method, recipe.Objective),
            data.Train,
            recipe.Training,
            device,
            new Progress(this, id, new DutyCycle(options.DutyCycle)),
            cancellationToken,
            new TrainingSnapshotOptions(runStore.SnapshotFolder(id), options.SnapshotEvery));
        cancellationToken.ThrowIfCancellationRequested();

        // Evaluate and gate: candidate and parent on the same held-out images, then the candidate on the test images.
        coordinator.Update(id, r => r with { Phase = RunPhase.Evaluating }, outcome.ResumedFromStep > 0 ? $"resumed at step {outcome.ResumedFromStep}; evaluating" : "evaluating");
        var epsilon = parent?.Manifest.Training.HyperParameters.GetValueOrDefault(HyperParameters.Epsilon.Name, recipe.Objective.Epsilon) ?? recipe.Objective.Epsilon;
        var gateData = data.Validation.Take(options.Gate.Examples);
        var gateAttack = options.Gate.Attack;
        var candidate = Measure(model, gateData, gateAttack, epsilon, recipe.Objective.Scale, device, cancellationToken);
        metrics.CandidateMeasured(candidate.RobustAccuracy);
        var parentMeasured = parent is null
            ? null
            : Measure(parent.Model, gateData, gateAttack, epsilon, parent.Manifest.Training.HyperParameters.GetValueOrDefault(HyperParameters.Scale.Name, 1.0), device, cancellationToken);
        var decision = RobustnessGate.Decide(candidate, parentMeasured, parent?.Manifest.Version, Finite(model), options.Gate);
        var test = DatasetCatalog.Load(dataOptions.Value, DatasetSplit.Test).Take(options.Gate.TestExamples);
        var report = ModelEvaluator.Evaluate(
            model,
            new EvaluationPlan { Test = test, Validation = data.Validation, Attacks = [AttackCatalog.Clean, gateAttack], Epsilon = epsilon, LogitScale = recipe.Objective.Scale },
            device,
            progress: null,
            cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var evaluation = new CandidateEvaluation(report.Clean.Accuracy, report.Robust[0].Accuracy, gateAttack, epsilon, report.HardPairShare ?? 0, report.Temperature, report.TestExamples);
        coordinator.Update(id, r => r with { Gate = decision, Evaluation = evaluation }, decision.Reason);

        if (!decision.Accepted)
        {
            LogRejected(logger, id, decision.Reason);
            metrics.GateRejected();
            return coordinator.Complete(id, RunPhase.Rejected, decision.Reason);
        }

        // Write the manifest and publish (verified as it landed).
        coordinator.Update(id, r => r with { Phase = RunPhase.Publishing }, "publishing");
        var record = new CandidateRecord(
            parent?.Manifest.Version,
            parent?.Manifest.Architecture ?? NetworkCatalog.For(data.Train.Shape).Name,
            recipe.Head,
            new TrainingRecord
            {
                Method = recipe.Method,
                HyperParameters = new Dictionary<string, double>(started.HyperParameters, StringComparer.Ordinal),
                Epochs = recipe.Training.Epochs,
                Seed = recipe.Training.Seed,
                Device = device.ToString(),
                RunId = id,
            });
        var published = RetrainingPipeline.Publish(checkpoints, model, RetrainingPipeline.Manifest(record, data, report));
        metrics.Published();
        coordinator.Update(id, r => r with { PublishedVersion = published.Version }, $"published {published.Version}");
        LogPublished(logger, id, published.Version);

        // Notify the inference service (which also watches the store).
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
    /// The run's recipe. A run without a method of its own continues the parent's: its method and
    /// its objective's and optimizer's settings, unless the run overrides them. With no parent:
    /// PGD-AT on a linear head, the best on the validation search (docs/RESULTS.md); a run that
    /// names another method gets the head that method is made for. A parent's head is kept.
    /// </summary>
    private RunRecipe RecipeFor(TrainingRun run, CheckpointManifest? parent)
    {
        var parentTraining = parent?.Training;
        var inherited = run.Method == TrainerOptions.ServingMethod && parentTraining is not null && TrainingObjectives.Names.Contains(parentTraining.Method);
        var method = run.Method != TrainerOptions.ServingMethod ? run.Method : inherited ? parentTraining!.Method : TrainingObjectives.PgdAt;
        var head = parent?.Head is { } parentHead
            ? System.Enum.Parse<ClassifierHeadKind>(parentHead, ignoreCase: true)
            : method is TrainingObjectives.PgdAt or TrainingObjectives.Standard ? ClassifierHeadKind.Linear : ClassifierHeadKind.Cosine;
        var own = inherited ? parentTraining!.HyperParameters : null;
        var objective = ObjectiveOptionsFor(run, method, own, head);
        return new RunRecipe(method, head, objective, TrainingOptionsFor(run, own, parent is null, objective.Seed));
    }

    /// <summary>
    /// The seed of the run's training subset: the run's <c>dataSeed</c> or <c>seed</c> when it
    /// names one, else one drawn from its id — so that successive cycles train on different images
    /// of the training part (not the same subset every time), and a resumed run on the same ones.
    /// </summary>
    internal static int DataSeed(TrainingRun run, int seed)
    {
        if (run.HyperParameters.TryGetValue(HyperParameters.DataSeed.Name, out var own) || run.HyperParameters.TryGetValue(RunSettings.Seed, out own))
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
    private ObjectiveOptions ObjectiveOptionsFor(TrainingRun run, string method, IReadOnlyDictionary<string, double>? serving, ClassifierHeadKind head)
    {
        var p = run.HyperParameters;
        var defaults = ObjectiveOptions.DefaultsFor(method, head);
        double Value(string name, double fallback) =>
            p.TryGetValue(name, out var own) ? own : serving is not null && serving.TryGetValue(name, out var inherited) ? inherited : fallback;
        var epsilon = Value(HyperParameters.Epsilon.Name, options.Epsilon);
        var steps = (int)p.GetValueOrDefault(HyperParameters.AttackSteps.Name, options.AttackSteps);
        return new ObjectiveOptions
        {
            Epsilon = epsilon,
            AttackSteps = steps,
            AttackStepSize = p.GetValueOrDefault(HyperParameters.AttackStepSize.Name, 2 * epsilon / steps),
            Beta = Value(HyperParameters.Beta.Name, defaults.Beta),
            Scale = Value(HyperParameters.Scale.Name, defaults.Scale),
            Margin = Value(HyperParameters.Margin.Name, defaults.Margin),
            ConsistencyWeight = Value(HyperParameters.ConsistencyWeight.Name, defaults.ConsistencyWeight),
            DetachWeights = Value(HyperParameters.DetachWeights.Name, defaults.DetachWeights ? 1 : 0) != 0,
            ClampWeights = Value(HyperParameters.ClampWeights.Name, defaults.ClampWeights ? 1 : 0) != 0,
            PartnerMargin = Value(HyperParameters.PartnerMargin.Name, defaults.PartnerMargin),
            PartnerAttackShare = Value(HyperParameters.PartnerAttackShare.Name, defaults.PartnerAttackShare),
            Seed = (int)p.GetValueOrDefault(RunSettings.Seed, options.Seed),
        };
    }

    /// <summary>
    /// The optimizer's recipe: the budget and learning rate are the sidecar's (or the run's own);
    /// weight decay, the schedule's shape and the weight average are the run's own, else — for a
    /// run that continues the serving checkpoint's recipe — that checkpoint's, else the validation
    /// search's (docs/RESULTS.md: one-cycle, weight decay 5e-4, an average with decay 0.995).
    /// </summary>
    private TrainingOptions TrainingOptionsFor(TrainingRun run, IReadOnlyDictionary<string, double>? serving, bool fromScratch, int seed)
    {
        var p = run.HyperParameters;
        double Value(string name, double fallback) =>
            p.TryGetValue(name, out var own) ? own : serving is not null && serving.TryGetValue(name, out var inherited) ? inherited : fallback;
        return new TrainingOptions
        {
            Epochs = p.GetValueOrDefault(HyperParameters.Epochs.Name, options.Epochs),
            LearningRate = p.GetValueOrDefault(HyperParameters.LearningRate.Name, fromScratch ? options.ScratchLearningRate : options.LearningRate),
            BatchSize = (int)p.GetValueOrDefault(HyperParameters.BatchSize.Name, options.BatchSize),
            WeightDecay = Value(HyperParameters.WeightDecay.Name, HyperParameters.SearchedWeightDecay),
            Schedule = (LearningRateSchedule)(int)Value(HyperParameters.Schedule.Name, (int)LearningRateSchedule.OneCycle),
            EmaDecay = Value(HyperParameters.Ema.Name, HyperParameters.SearchedEmaDecay),
            Seed = seed,
        };
    }

    private static GateMeasurement Measure(nn.Module<Tensor, Tensor> model, ImageDataset data, string attack, double epsilon, double scale, Device device, CancellationToken cancellationToken)
    {
        var clean = RobustnessEvaluator.Run(model, data, null, 250, device, cancellationToken);
        var robust = RobustnessEvaluator.Run(model, data, AttackCatalog.Create(attack, epsilon, scale, seed: 0), 250, device, cancellationToken);
        return new GateMeasurement(clean.Accuracy, robust.Accuracy);
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
                r => r with { Step = value.Step, TotalSteps = value.TotalSteps, Loss = value.Loss },
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

    private sealed record RunRecipe(string Method, ClassifierHeadKind Head, ObjectiveOptions Objective, TrainingOptions Training);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} failed")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} rejected by the gate: {Reason}")]
    private static partial void LogRejected(ILogger logger, string runId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: cancelled while notifying the inference service of {Version}; the run stays published and the service finds the version in the store")]
    private static partial void LogNotificationCancelled(ILogger logger, string runId, string version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} published {Version}")]
    private static partial void LogPublished(ILogger logger, string runId, string version);
}
