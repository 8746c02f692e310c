using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Leadership;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// The control API's one view of the runs: each call goes to <see cref="LeaderRuns"/> while this
/// sidecar leads training (always, without leader election) and to <see cref="FollowerRuns"/>
/// otherwise, so leadership can move between calls without the service knowing.
/// </summary>
public sealed class ReplicaRuns(LeaderRuns leader, FollowerRuns follower, TrainingLeadership leadership) : IRunControl
{
    private IRunControl Current => leadership.IsLeader ? leader : follower;

    public TrainingRun Start(StartRunRequest request) => Current.Start(request);

    public TrainingRun? Get(string runId) => Current.Get(runId);

    public IReadOnlyList<TrainingRun> List(int limit) => Current.List(limit);

    public TrainingRun? Cancel(string runId, string reason) => Current.Cancel(runId, reason);

    public IAsyncEnumerable<RunChange> WatchAsync(string runId, CancellationToken cancellationToken) => Current.WatchAsync(runId, cancellationToken);

    public RunOverview Overview() => Current.Overview();
}
