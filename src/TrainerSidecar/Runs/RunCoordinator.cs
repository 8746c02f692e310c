using System.Runtime.CompilerServices;
using System.Collections.Immutable;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.TrainerSidecar.Options;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// The runs' single source of truth: the queue (<see cref="RunQueue"/>: operator runs before the
/// next scheduled cycle, one run at a time), each run's state and its durable changes
/// (<see cref="RunStore"/>); watchers hear of each change through <see cref="RunEvents"/>.
/// </summary>
/// <remarks>
/// Two locks. <c>writes</c> orders the changes: a change is built on a copy of the run, made
/// durable, and only then replaces the run in memory and is announced — so a reader or watcher
/// never sees a state a restart could lose. <c>gate</c> guards the in-memory state and is held only
/// for in-memory work, never across a disk write, so that reading runs (the control API's
/// GetRun, ListRuns, WatchRun) does not wait for an fsync on a slow shared volume. Lock order:
/// <c>writes</c>, then <c>gate</c>; never <c>writes</c> while holding <c>gate</c>.
/// </remarks>
public sealed partial class RunCoordinator
{
    private readonly Lock writes = new();
    private readonly Lock gate = new();
    private readonly Dictionary<string, TrainingRun> runs = new(StringComparer.Ordinal);
    private readonly RunQueue queue = new();
    private readonly RunEvents events;
    private readonly RunStore store;
    private readonly CheckpointStore checkpoints;
    private readonly TimeProvider time;
    private readonly TrainerOptions options;
    private readonly ILogger<RunCoordinator> logger;
    private CancellationTokenSource? currentCancellation;
    private string? currentRunId;
    private string? cancelReason;

    /// <summary>Starts empty: <see cref="Reload"/> reads the state folder (<see cref="RunRecovery"/> at start, or the leader when its term begins).</summary>
    public RunCoordinator(RunStore store, CheckpointStore checkpoints, RunEvents events, TimeProvider time, IOptions<TrainerOptions> options, ILogger<RunCoordinator> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.store = store;
        this.checkpoints = checkpoints;
        this.events = events;
        this.time = time;
        this.options = options.Value;
        this.logger = logger;
    }

    public string? CurrentRunId
    {
        get
        {
            lock (gate)
            {
                return currentRunId;
            }
        }
    }

    public DateTimeOffset? NextCycleAt { get; set; }

    /// <summary>Queues a run; a retried request with the same request id gets the run it already made.</summary>
    public TrainingRun Start(StartRunRequest request, RunTrigger trigger)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (writes)
        {
            lock (gate)
            {
                if (request.RequestId.Length > 0 && runs.Values.FirstOrDefault(r => r.RequestId == request.RequestId) is { } existing)
                {
                    return existing;
                }
            }

            // Durable before anyone can see it: a retry with the same request id waits on writes.
            var run = NewRun(request, trigger, options, time);
            store.Save(run);
            List<string> trimmed;
            lock (gate)
            {
                runs[run.RunId] = run;
                queue.Enqueue(run.RunId, run.Trigger);
                trimmed = Trim();
            }

            DeleteStored(trimmed);
            events.Announce(run, "queued");
            return run;
        }
    }

    /// <summary>A queued run as a request asks for it (not yet stored).</summary>
    public static TrainingRun NewRun(StartRunRequest request, RunTrigger trigger, TrainerOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var hyperParameters = new SortedDictionary<string, double>(request.HyperParameters, StringComparer.Ordinal);
        if (request.Data is { ExcludeFeedback: true })
        {
            hyperParameters[RunSettings.ExcludeFeedback] = 1;
        }

        if (request.Data?.Seed is > 0)
        {
            hyperParameters[RunSettings.Seed] = request.Data.Seed;
        }

        return new TrainingRun
        {
            RunId = $"run-{time.GetUtcNow():yyyyMMdd'T'HHmmss}-{Guid.NewGuid().ToString("N")[..8]}",
            Phase = RunPhase.Queued,
            Trigger = trigger,
            Method = request.Method.Length > 0 ? request.Method : options.Method,
            HyperParameters = hyperParameters.ToImmutableSortedDictionary(StringComparer.Ordinal),
            Reason = request.Reason,
            RequestId = request.RequestId,
            CreatedAt = time.GetUtcNow(),
            TrainExamples = request.Data?.TrainSubset > 0 ? request.Data.TrainSubset : options.TrainSubset,
        };
    }

    /// <summary>
    /// The leader's side of the shared state folder: runs that followers queued there join the
    /// queue, and the cancellations they asked for are carried out.
    /// </summary>
    public void TakeUpRequests()
    {
        lock (writes)
        {
            // Under writes, so that no run this sidecar is starting is mistaken for a follower's.
            var ids = store.Ids().ToList();
            List<string> unknown;
            lock (gate)
            {
                unknown = [.. ids.Where(id => !runs.ContainsKey(id))];
            }

            // Only queued ones: the rest of the folder was read when this term began (Reload).
            var requested = unknown.Select(store.Load).OfType<TrainingRun>().Where(r => r.Phase == RunPhase.Queued).ToList();
            if (requested.Count > 0)
            {
                List<string> trimmed;
                lock (gate)
                {
                    foreach (var run in requested)
                    {
                        runs[run.RunId] = run;
                        queue.Enqueue(run.RunId, run.Trigger);
                        LogTakenUp(logger, run.RunId);
                    }

                    trimmed = Trim();
                }

                DeleteStored(trimmed);
            }
        }

        foreach (var (runId, reason) in store.CancelRequests())
        {
            Cancel(runId, reason);
            store.DeleteCancelRequest(runId);
        }
    }

    public TrainingRun? Get(string runId)
    {
        lock (gate)
        {
            return runs.GetValueOrDefault(runId);
        }
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<TrainingRun> List(int limit)
    {
        lock (gate)
        {
            return [.. runs.Values.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.RunId, StringComparer.Ordinal).Take(limit)];
        }
    }

    public IReadOnlyList<TrainingRun> Queued()
    {
        lock (gate)
        {
            return [.. queue.Ids.Select(id => runs[id])];
        }
    }

    /// <summary>Cancels a queued run at once, a running one within a step; a finished run is returned unchanged.</summary>
    public TrainingRun? Cancel(string runId, string reason)
    {
        lock (writes)
        {
            bool wasQueued;
            lock (gate)
            {
                if (!runs.TryGetValue(runId, out var run))
                {
                    return null;
                }

                wasQueued = queue.Remove(runId);
                if (!wasQueued && currentRunId == runId)
                {
                    cancelReason = reason;
                    currentCancellation?.Cancel();
                }

                if (!wasQueued)
                {
                    return run;
                }
            }

            return Write(runId, r => Finished(r, RunPhase.Cancelled, reason), reason, persist: true, finished: true);
        }
    }

    /// <summary>Forgets what is in memory and reads the runs again from the (shared) state folder, as after a restart.</summary>
    public void Reload()
    {
        lock (writes)
        {
            lock (gate)
            {
                runs.Clear();
                queue.Clear();
                Recover();
            }
        }
    }

    /// <summary>Waits for the next queued run and makes it current; the token stops it (CancelRun or shutdown).</summary>
    public async Task<(TrainingRun Run, CancellationToken Cancellation)?> TakeNextAsync(TimeSpan wait, CancellationToken stopping)
    {
        if (!await queue.WaitAsync(wait, stopping))
        {
            return null;
        }

        lock (gate)
        {
            if (queue.TakeNext() is not { } next)
            {
                return null;
            }

            var run = runs[next];
            currentRunId = run.RunId;
            currentCancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            return (run, currentCancellation.Token);
        }
    }

    /// <summary>
    /// Applies a change to a run: with <paramref name="persist"/> (phase changes) it is durable
    /// before readers see it or watchers hear of it; without (progress steps), in memory only.
    /// </summary>
    public TrainingRun Update(string runId, Func<TrainingRun, TrainingRun> change, string message = "", bool persist = true, double examplesPerSecond = 0)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (writes)
        {
            return Write(runId, change, message, persist, finished: false, examplesPerSecond: examplesPerSecond);
        }
    }

    /// <summary>
    /// The current run stopped on its token: cancelled by an operator (ended, snapshots removed),
    /// or by shutdown (left as it is on disk, for the next start to resume).
    /// </summary>
    public void Stopped(string runId)
    {
        lock (writes)
        {
            string? reason;
            lock (gate)
            {
                if (currentRunId != runId)
                {
                    return;
                }

                reason = cancelReason;
                if (reason is null)
                {
                    ClearCurrent();
                    return;
                }
            }

            Complete(runId, RunPhase.Cancelled, reason);
        }
    }

    /// <summary>Ends the current run in a terminal phase.</summary>
    public TrainingRun Complete(string runId, RunPhase phase, string message)
    {
        lock (writes)
        {
            // Durable first, then tidy up, then tell watchers: whoever hears "finished" sees no
            // current run and no snapshots left, and a crash in between never revives the run.
            return Write(runId, r => Finished(r, phase, message), message, persist: true, finished: true, tidy: () =>
            {
                lock (gate)
                {
                    if (currentRunId == runId)
                    {
                        ClearCurrent();
                    }
                }

                store.DeleteSnapshots(runId);
            });
        }
    }

    /// <summary>The run's current state, then each change, until it finishes.</summary>
    public async IAsyncEnumerable<RunChange> WatchAsync(string runId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RunEvents.Subscription subscription;
        // Under writes: no change can be announced between the state read and the subscription.
        lock (writes)
        {
            lock (gate)
            {
                if (!runs.TryGetValue(runId, out var run))
                {
                    yield break;
                }

                subscription = events.Subscribe(run);
            }
        }

        using (subscription)
        {
            await foreach (var item in subscription.Events.ReadAllAsync(cancellationToken))
            {
                yield return item;
            }
        }
    }

    private void ClearCurrent()
    {
        currentRunId = null;
        cancelReason = null;
        currentCancellation?.Dispose();
        currentCancellation = null;
    }

    public static bool IsTerminal(RunPhase phase) =>
        phase is RunPhase.Published or RunPhase.Rejected or RunPhase.Failed or RunPhase.Cancelled or RunPhase.Interrupted;

    /// <summary>
    /// One change, the caller holding <c>writes</c>: the run's next value made durable
    /// (<paramref name="persist"/>), then the run in memory, then <paramref name="tidy"/>, then
    /// announced (and the watchers' streams ended when <paramref name="finished"/>).
    /// </summary>
    private TrainingRun Write(string runId, Func<TrainingRun, TrainingRun> change, string message, bool persist, bool finished, double examplesPerSecond = 0, Action? tidy = null)
    {
        TrainingRun current;
        lock (gate)
        {
            current = runs[runId];
        }

        var next = change(current);
        if (next.RunId != runId)
        {
            throw new InvalidOperationException($"a change to run {runId} may not change its id");
        }

        if (persist)
        {
            store.Save(next);
        }

        lock (gate)
        {
            runs[runId] = next;
        }

        tidy?.Invoke();
        events.Announce(next, message, examplesPerSecond);
        if (finished)
        {
            events.Finish(runId);
        }

        return next;
    }

    private TrainingRun Finished(TrainingRun run, RunPhase phase, string message) => run with
    {
        Phase = phase,
        FinishedAt = time.GetUtcNow(),
        Error = phase is RunPhase.Failed or RunPhase.Cancelled or RunPhase.Interrupted ? message : run.Error,
    };

    /// <summary>Recovery's end of a run (under both locks, before anyone watches).</summary>
    private void Finish(TrainingRun run, RunPhase phase, string message)
    {
        var finished = Finished(run, phase, message);
        store.Save(finished);
        runs[run.RunId] = finished;
        events.Announce(finished, message);
        events.Finish(run.RunId);
    }

    /// <summary>
    /// After a restart: queued runs stay queued; a run caught mid-flight resumes from its snapshot
    /// (or, if its checkpoint had already landed, is marked published); without a snapshot it is
    /// marked interrupted. Nothing is dropped or run twice.
    /// </summary>
    private void Recover()
    {
        store.DeleteLeftovers(time.GetUtcNow() - TimeSpan.FromMinutes(1));
        var (stored, unreadable) = store.LoadAll();
        foreach (var problem in unreadable)
        {
            LogUnreadableRun(logger, problem);
        }

        var resumed = new List<TrainingRun>();
        foreach (var run in stored)
        {
            runs[run.RunId] = run;
            if (IsTerminal(run.Phase))
            {
                continue;
            }

            if (run.Phase == RunPhase.Queued)
            {
                queue.Append(run.RunId, run.Trigger);
                continue;
            }

            var landed = checkpoints.List().FirstOrDefault(c => c.Manifest?.Training.RunId == run.RunId);
            if (landed is not null)
            {
                Finish(run with { PublishedVersion = landed.Version }, RunPhase.Published, $"published {landed.Version} before the restart");
                store.DeleteSnapshots(run.RunId);
            }
            else if (run.Phase == RunPhase.Training || ML.Training.TrainingSnapshots.Latest(store.SnapshotFolder(run.RunId)) is not null)
            {
                var requeued = run with { Phase = RunPhase.Queued, Resumes = run.Resumes + 1 };
                store.Save(requeued);
                runs[run.RunId] = requeued;
                resumed.Add(requeued);
                LogResuming(logger, run.RunId, run.Step);
            }
            else
            {
                Finish(run, RunPhase.Interrupted, $"the sidecar stopped during {run.Phase} and left no snapshot to resume from");
                LogInterrupted(logger, run.RunId);
            }
        }

        // Resumed runs go first, in the order read: they were already running.
        foreach (var run in Enumerable.Reverse(resumed))
        {
            queue.Resume(run.RunId, run.Trigger);
        }
    }

    /// <summary>Forgets the oldest finished runs past the history's size (under <c>gate</c>); their files are the caller's to delete, outside it.</summary>
    private List<string> Trim()
    {
        var finished = runs.Values.Where(r => IsTerminal(r.Phase)).OrderBy(r => r.CreatedAt).ToList();
        var trimmed = finished.Take(Math.Max(0, runs.Count - options.RunHistory)).Select(r => r.RunId).ToList();
        trimmed.ForEach(id => runs.Remove(id));
        return trimmed;
    }

    private void DeleteStored(List<string> runIds) => runIds.ForEach(store.Delete);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}, queued through another replica, joins the queue")]
    private static partial void LogTakenUp(ILogger logger, string runId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A stored run could not be read and is ignored: {Problem}")]
    private static partial void LogUnreadableRun(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} was interrupted by a restart at step {Step}; resuming it from its snapshot")]
    private static partial void LogResuming(ILogger logger, string runId, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} was interrupted by a restart and left no snapshot; marked interrupted")]
    private static partial void LogInterrupted(ILogger logger, string runId);
}
