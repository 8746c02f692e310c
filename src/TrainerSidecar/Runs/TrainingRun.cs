using System.Collections.Immutable;
using Google.Protobuf.WellKnownTypes;
using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Gate;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// One retraining run as the sidecar holds it: immutable, so a change is a new value
/// (<c>run with { Phase = … }</c>) that <see cref="RunCoordinator"/> makes durable before anyone
/// sees it. The control API's <c>hardpair.v1.Run</c> is its wire form (<see cref="ToContract"/>),
/// and so is a run's file in the state folder (<see cref="RunStore"/>); the phase and trigger are
/// the contract's enums, which carry no state.
/// </summary>
public sealed record TrainingRun
{
    public required string RunId { get; init; }

    public RunPhase Phase { get; init; }

    public RunTrigger Trigger { get; init; }

    /// <summary>A training method, or <c>serving</c> until the run resolves the serving checkpoint's.</summary>
    public string Method { get; init; } = "";

    /// <summary>The catalog's hyper-parameters the run was asked for, then everything it resolved (ordinal keys).</summary>
    public ImmutableSortedDictionary<string, double> HyperParameters { get; init; } = ImmutableSortedDictionary.Create<string, double>(StringComparer.Ordinal);

    public string Reason { get; init; } = "";

    /// <summary>The checkpoint the run started from; empty when trained from scratch.</summary>
    public string ParentVersion { get; init; } = "";

    public int Step { get; init; }

    public int TotalSteps { get; init; }

    public double Loss { get; init; }

    public int TrainExamples { get; init; }

    public int FeedbackExamples { get; init; }

    public CandidateEvaluation? Evaluation { get; init; }

    public GateVerdict? Gate { get; init; }

    public string PublishedVersion { get; init; } = "";

    /// <summary>Why the run failed, was cancelled or interrupted.</summary>
    public string Error { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>How many times a crash-interrupted run was resumed from its snapshot.</summary>
    public int Resumes { get; init; }

    public string Device { get; init; } = "";

    /// <summary>The caller's idempotency key; empty when it gave none.</summary>
    public string RequestId { get; init; } = "";

    /// <summary>This run with <paramref name="values"/> set in its hyper-parameters.</summary>
    public TrainingRun WithHyperParameters(IEnumerable<KeyValuePair<string, double>> values) =>
        this with { HyperParameters = HyperParameters.SetItems(values) };

    public Run ToContract()
    {
        var run = new Run
        {
            RunId = RunId,
            Phase = Phase,
            Trigger = Trigger,
            Method = Method,
            Reason = Reason,
            ParentVersion = ParentVersion,
            Step = Step,
            TotalSteps = TotalSteps,
            Loss = Loss,
            TrainExamples = TrainExamples,
            FeedbackExamples = FeedbackExamples,
            Evaluation = Evaluation?.ToContract(),
            Gate = Gate?.ToContract(),
            PublishedVersion = PublishedVersion,
            Error = Error,
            CreatedAt = Timestamp.FromDateTimeOffset(CreatedAt),
            StartedAt = StartedAt is { } started ? Timestamp.FromDateTimeOffset(started) : null,
            FinishedAt = FinishedAt is { } finished ? Timestamp.FromDateTimeOffset(finished) : null,
            Resumes = Resumes,
            Device = Device,
            RequestId = RequestId,
        };
        run.HyperParameters.Add(HyperParameters);
        return run;
    }

    public static TrainingRun FromContract(Run run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new TrainingRun
        {
            RunId = run.RunId,
            Phase = run.Phase,
            Trigger = run.Trigger,
            Method = run.Method,
            HyperParameters = run.HyperParameters.ToImmutableSortedDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
            Reason = run.Reason,
            ParentVersion = run.ParentVersion,
            Step = run.Step,
            TotalSteps = run.TotalSteps,
            Loss = run.Loss,
            TrainExamples = run.TrainExamples,
            FeedbackExamples = run.FeedbackExamples,
            Evaluation = run.Evaluation is { } evaluation ? CandidateEvaluation.FromContract(evaluation) : null,
            Gate = run.Gate is { } gate ? GateVerdict.FromContract(gate) : null,
            PublishedVersion = run.PublishedVersion,
            Error = run.Error,
            CreatedAt = run.CreatedAt?.ToDateTimeOffset() ?? default,
            StartedAt = run.StartedAt?.ToDateTimeOffset(),
            FinishedAt = run.FinishedAt?.ToDateTimeOffset(),
            Resumes = run.Resumes,
            Device = run.Device,
            RequestId = run.RequestId,
        };
    }

    /// <summary>Value equality, the hyper-parameters compared by their entries.</summary>
    public bool Equals(TrainingRun? other) =>
        other is not null && ToContract().Equals(other.ToContract());

    public override int GetHashCode() => ToContract().GetHashCode();
}

/// <summary>The candidate measured after training: on the test images, clean and under the gate's attack.</summary>
public sealed record CandidateEvaluation(double CleanAccuracy, double RobustAccuracy, string RobustAttack, double Epsilon, double HardPairShare, double Temperature, int Examples)
{
    public RunEvaluation ToContract() => new()
    {
        CleanAccuracy = CleanAccuracy,
        RobustAccuracy = RobustAccuracy,
        RobustAttack = RobustAttack,
        Epsilon = Epsilon,
        HardPairShare = HardPairShare,
        Temperature = Temperature,
        Examples = Examples,
    };

    public static CandidateEvaluation FromContract(RunEvaluation evaluation)
    {
        ArgumentNullException.ThrowIfNull(evaluation);
        return new(evaluation.CleanAccuracy, evaluation.RobustAccuracy, evaluation.RobustAttack, evaluation.Epsilon, evaluation.HardPairShare, evaluation.Temperature, evaluation.Examples);
    }
}

/// <summary>A change to a run, for its watchers: the run as it now is, what happened, and the training speed when a step did.</summary>
public sealed record RunChange(TrainingRun Run, string Message, double ExamplesPerSecond = 0)
{
    public RunEvent ToContract() => new() { Run = Run.ToContract(), Message = Message, ExamplesPerSecond = ExamplesPerSecond };
}
