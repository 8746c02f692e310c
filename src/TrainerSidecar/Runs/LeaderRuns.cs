using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Leadership;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>The runs as the sidecar that leads training holds them: its <see cref="RunCoordinator"/>.</summary>
public sealed class LeaderRuns(RunCoordinator coordinator, TrainingLeadership leadership) : IRunControl
{
    public TrainingRun Start(StartRunRequest request) => coordinator.Start(request, RunTrigger.Operator);

    /// <summary>
    /// A run as the leader holds it. One that a follower queued a moment ago (the caller's next
    /// call landed here) is taken up now rather than at the next tick.
    /// </summary>
    public TrainingRun? Get(string runId)
    {
        var run = coordinator.Get(runId);
        if (run is not null || !leadership.Enabled)
        {
            return run;
        }

        coordinator.TakeUpRequests();
        return coordinator.Get(runId);
    }

    public IReadOnlyList<TrainingRun> List(int limit) => coordinator.List(limit);

    public TrainingRun? Cancel(string runId, string reason) => Get(runId) is null ? null : coordinator.Cancel(runId, reason);

    public IAsyncEnumerable<RunChange> WatchAsync(string runId, CancellationToken cancellationToken) => coordinator.WatchAsync(runId, cancellationToken);

    public RunOverview Overview() => new(
        coordinator.Queued(),
        coordinator.CurrentRunId is { } id ? coordinator.Get(id) : null,
        coordinator.List(10_000).FirstOrDefault(r => r.PublishedVersion.Length > 0),
        coordinator.NextCycleAt);
}
