using System.Runtime.CompilerServices;
using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Options;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// What a sidecar that does not lead training answers, from the state folder the replicas share:
/// runs as the leader last saved them (phase changes at once, progress at each snapshot), and new
/// runs and cancellations left there for the leader, which takes them up within a second
/// (<see cref="RunRequestIntake"/>). So an operator's call lands on whichever pod the Service
/// picks, and nothing it was told is lost when leadership moves: the next leader reads the same
/// folder.
/// </summary>
public sealed class FollowerRuns(RunStore store, TimeProvider time, IOptions<TrainerOptions> options) : IRunControl
{
    /// <summary>How often a follower's <c>WatchRun</c> reads the run again.</summary>
    public static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Leaves a queued run for the leader; a retried request with the same request id gets the run
    /// it already made (on any replica, once that run is on disk).
    /// </summary>
    public TrainingRun Start(StartRunRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestId.Length > 0 && Stored().FirstOrDefault(r => r.RequestId == request.RequestId) is { } existing)
        {
            return existing;
        }

        var run = RunCoordinator.NewRun(request, RunTrigger.Operator, options.Value, time);
        store.Save(run);
        return run;
    }

    public TrainingRun? Get(string runId) => store.Load(runId);

    /// <summary>Newest first.</summary>
    public IReadOnlyList<TrainingRun> List(int limit) =>
        [.. Stored().OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.RunId, StringComparer.Ordinal).Take(limit)];

    /// <summary>
    /// From one read of the folder: the queued runs in the order the leader takes them (resumed,
    /// then operator runs, then scheduled cycles), the run it is working on and the newest that
    /// published, as last saved; no cycle is scheduled on a follower.
    /// </summary>
    public RunOverview Overview()
    {
        var stored = Stored();
        return new(
            [.. stored.Where(r => r.Phase == RunPhase.Queued).OrderByDescending(r => r.Resumes > 0).ThenByDescending(r => r.Trigger == RunTrigger.Operator).ThenBy(r => r.CreatedAt)],
            stored.Where(r => r.Phase != RunPhase.Queued && !RunCoordinator.IsTerminal(r.Phase)).OrderByDescending(r => r.StartedAt).FirstOrDefault(),
            stored.Where(r => r.PublishedVersion.Length > 0).OrderByDescending(r => r.CreatedAt).FirstOrDefault(),
            // Continuous cycles are the leader's to schedule.
            NextCycleAt: null);
    }

    /// <summary>Asks the leader to cancel the run; returns it as stored (a finished run unchanged), or null when there is none.</summary>
    public TrainingRun? Cancel(string runId, string reason)
    {
        var run = store.Load(runId);
        if (run is not null && !RunCoordinator.IsTerminal(run.Phase))
        {
            store.RequestCancel(runId, reason);
        }

        return run;
    }

    /// <summary>The run's current state, then each change the leader saves, until it finishes.</summary>
    public async IAsyncEnumerable<RunChange> WatchAsync(string runId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        TrainingRun? last = null;
        while (store.Load(runId) is { } run)
        {
            if (!run.Equals(last))
            {
                yield return new RunChange(run, last is null ? "current state" : $"{run.Phase.ToString().ToLowerInvariant()}, saved by the leader");
                last = run;
            }

            if (RunCoordinator.IsTerminal(run.Phase))
            {
                yield break;
            }

            await Task.Delay(WatchInterval, time, cancellationToken);
        }
    }

    private IReadOnlyList<TrainingRun> Stored() => store.LoadAll().Runs;
}
