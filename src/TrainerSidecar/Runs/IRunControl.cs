using HardPair.Protos.V1;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// What the control API asks of the runs, on whichever replica a call lands: the leader answers
/// from its coordinator (<see cref="LeaderRuns"/>), a follower from the shared state folder
/// (<see cref="FollowerRuns"/>); <see cref="ReplicaRuns"/> picks the one this sidecar is now.
/// </summary>
public interface IRunControl
{
    /// <summary>Queues a run; a retried request with the same request id gets the run it already made.</summary>
    TrainingRun Start(StartRunRequest request);

    TrainingRun? Get(string runId);

    /// <summary>Newest first.</summary>
    IReadOnlyList<TrainingRun> List(int limit);

    /// <summary>Cancels the run (a finished one is returned unchanged); null when there is none.</summary>
    TrainingRun? Cancel(string runId, string reason);

    /// <summary>The run's current state, then each change, until it finishes.</summary>
    IAsyncEnumerable<RunChange> WatchAsync(string runId, CancellationToken cancellationToken);

    RunOverview Overview();
}

/// <summary>
/// The queued runs in the order they will be taken, the run being worked on, the newest that
/// published, and when the next continuous cycle is due (null when none is scheduled here).
/// </summary>
public sealed record RunOverview(IReadOnlyList<TrainingRun> Queued, TrainingRun? Current, TrainingRun? LastPublished, DateTimeOffset? NextCycleAt);
