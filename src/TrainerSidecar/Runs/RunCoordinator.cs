using System.Runtime.CompilerServices;
using Google.Protobuf.WellKnownTypes;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.TrainerSidecar.Options;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// The runs' single source of truth: the queue (operator runs before the next scheduled cycle,
/// one run at a time), each run's state and durable phase changes; watchers hear of each change
/// through <see cref="RunEvents"/>.
/// </summary>
public sealed partial class RunCoordinator
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, Run> runs = new(StringComparer.Ordinal);
    private readonly LinkedList<string> queue = new();
    private readonly RunEvents events;
    private readonly SemaphoreSlim queued = new(0);
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
    public Run Start(StartRunRequest request, RunTrigger trigger)
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (gate)
        {
            if (request.RequestId.Length > 0 && runs.Values.FirstOrDefault(r => r.RequestId == request.RequestId) is { } existing)
            {
                return existing.Clone();
            }

            var run = NewRun(request, trigger, options, time);
            store.Save(run);
            runs[run.RunId] = run;
            Enqueue(run);
            Trim();
            events.Announce(run, "queued");
            return run.Clone();
        }
    }

    /// <summary>A queued run as a request asks for it (not yet stored).</summary>
    public static Run NewRun(StartRunRequest request, RunTrigger trigger, TrainerOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var run = new Run
        {
            RunId = $"run-{time.GetUtcNow():yyyyMMdd'T'HHmmss}-{Guid.NewGuid().ToString("N")[..8]}",
            Phase = RunPhase.Queued,
            Trigger = trigger,
            Method = request.Method.Length > 0 ? request.Method : options.Method,
            Reason = request.Reason,
            RequestId = request.RequestId,
            CreatedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
            TrainExamples = request.Data?.TrainSubset > 0 ? request.Data.TrainSubset : options.TrainSubset,
        };
        run.HyperParameters.Add(request.HyperParameters);
        if (request.Data is { ExcludeFeedback: true })
        {
            run.HyperParameters["excludeFeedback"] = 1;
        }

        if (request.Data?.Seed is > 0)
        {
            run.HyperParameters["seed"] = request.Data.Seed;
        }

        return run;
    }

    /// <summary>
    /// The leader's side of the shared state folder: runs that followers queued there join the
    /// queue, and the cancellations they asked for are carried out.
    /// </summary>
    public void TakeUpRequests()
    {
        lock (gate)
        {
            var added = false;
            foreach (var id in store.Ids().Where(id => !runs.ContainsKey(id)).ToList())
            {
                // Only queued ones: the rest of the folder was read when this term began (Reload).
                if (store.Load(id) is { Phase: RunPhase.Queued } run)
                {
                    runs[id] = run;
                    Enqueue(run);
                    added = true;
                    LogTakenUp(logger, id);
                }
            }

            if (added)
            {
                Trim();
            }
        }

        foreach (var (runId, reason) in store.CancelRequests())
        {
            Cancel(runId, reason);
            store.DeleteCancelRequest(runId);
        }
    }

    public Run? Get(string runId)
    {
        lock (gate)
        {
            return runs.TryGetValue(runId, out var run) ? run.Clone() : null;
        }
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<Run> List(int limit)
    {
        lock (gate)
        {
            return [.. runs.Values.OrderByDescending(r => r.CreatedAt?.ToDateTimeOffset()).ThenByDescending(r => r.RunId, StringComparer.Ordinal).Take(limit).Select(r => r.Clone())];
        }
    }

    public IReadOnlyList<Run> Queued()
    {
        lock (gate)
        {
            return [.. queue.Select(id => runs[id].Clone())];
        }
    }

    /// <summary>Cancels a queued run at once, a running one within a step; a finished run is returned unchanged.</summary>
    public Run? Cancel(string runId, string reason)
    {
        lock (gate)
        {
            if (!runs.TryGetValue(runId, out var run))
            {
                return null;
            }

            if (queue.Remove(runId))
            {
                Finish(run, RunPhase.Cancelled, reason);
            }
            else if (currentRunId == runId)
            {
                cancelReason = reason;
                currentCancellation?.Cancel();
            }

            return run.Clone();
        }
    }

    /// <summary>Forgets what is in memory and reads the runs again from the (shared) state folder, as after a restart.</summary>
    public void Reload()
    {
        lock (gate)
        {
            runs.Clear();
            queue.Clear();
            while (queued.Wait(0))
            {
            }

            Recover();
        }
    }

    /// <summary>Waits for the next queued run and makes it current; the token stops it (CancelRun or shutdown).</summary>
    public async Task<(Run Run, CancellationToken Cancellation)?> TakeNextAsync(TimeSpan wait, CancellationToken stopping)
    {
        if (!await queued.WaitAsync(wait, stopping))
        {
            return null;
        }

        lock (gate)
        {
            if (queue.First is not { } first)
            {
                return null;
            }

            queue.RemoveFirst();
            var run = runs[first.Value];
            currentRunId = run.RunId;
            currentCancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            return (run.Clone(), currentCancellation.Token);
        }
    }

    /// <summary>Applies a change to a run; phase changes are made durable before watchers hear of them.</summary>
    public Run Update(string runId, Action<Run> change, string message = "", bool persist = true, double examplesPerSecond = 0)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (gate)
        {
            var run = runs[runId];
            change(run);
            if (persist)
            {
                store.Save(run);
            }

            events.Announce(run, message, examplesPerSecond);
            return run.Clone();
        }
    }

    /// <summary>
    /// The current run stopped on its token: cancelled by an operator (ended, snapshots removed),
    /// or by shutdown (left as it is on disk, for the next start to resume).
    /// </summary>
    public void Stopped(string runId)
    {
        lock (gate)
        {
            if (cancelReason is { } reason && currentRunId == runId)
            {
                Complete(runId, RunPhase.Cancelled, reason);
            }
            else if (currentRunId == runId)
            {
                ClearCurrent();
            }
        }
    }

    /// <summary>Ends the current run in a terminal phase.</summary>
    public Run Complete(string runId, RunPhase phase, string message)
    {
        lock (gate)
        {
            var run = runs[runId];
            // Durable first, then tidy up, then tell watchers: whoever hears "finished" sees no
            // current run and no snapshots left, and a crash in between never revives the run.
            Finish(run, phase, message, beforeAnnouncing: () =>
            {
                if (currentRunId == runId)
                {
                    ClearCurrent();
                }

                store.DeleteSnapshots(runId);
            });
            return run.Clone();
        }
    }

    /// <summary>The run's current state, then each change, until it finishes.</summary>
    public async IAsyncEnumerable<RunEvent> WatchAsync(string runId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RunEvents.Subscription subscription;
        lock (gate)
        {
            if (!runs.TryGetValue(runId, out var run))
            {
                yield break;
            }

            // Under the lock: no change can land between the state read and the subscription.
            subscription = events.Subscribe(run);
        }

        using (subscription)
        {
            await foreach (var item in subscription.Events.ReadAllAsync(cancellationToken))
            {
                yield return item;
            }
        }
    }

    /// <summary>Operator runs go before scheduled cycles but after earlier operator runs.</summary>
    private void Enqueue(Run run)
    {
        if (run.Trigger == RunTrigger.Operator)
        {
            var after = queue.Reverse().Select(id => runs[id]).FirstOrDefault(r => r.Trigger == RunTrigger.Operator);
            if (after is null)
            {
                queue.AddFirst(run.RunId);
            }
            else
            {
                queue.AddAfter(queue.Find(after.RunId)!, run.RunId);
            }
        }
        else
        {
            queue.AddLast(run.RunId);
        }

        queued.Release();
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

    private void Finish(Run run, RunPhase phase, string message, Action? beforeAnnouncing = null)
    {
        run.Phase = phase;
        run.FinishedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        if (phase is RunPhase.Failed or RunPhase.Cancelled or RunPhase.Interrupted)
        {
            run.Error = message;
        }

        store.Save(run);
        beforeAnnouncing?.Invoke();
        events.Announce(run, message);
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

        var resumed = new List<string>();
        foreach (var run in stored)
        {
            runs[run.RunId] = run;
            if (IsTerminal(run.Phase))
            {
                continue;
            }

            if (run.Phase == RunPhase.Queued)
            {
                queue.AddLast(run.RunId);
                continue;
            }

            var landed = checkpoints.List().FirstOrDefault(c => c.Manifest?.Training.RunId == run.RunId);
            if (landed is not null)
            {
                run.PublishedVersion = landed.Version;
                Finish(run, RunPhase.Published, $"published {landed.Version} before the restart");
                store.DeleteSnapshots(run.RunId);
            }
            else if (run.Phase == RunPhase.Training || ML.Training.TrainingSnapshots.Latest(store.SnapshotFolder(run.RunId)) is not null)
            {
                run.Phase = RunPhase.Queued;
                run.Resumes++;
                store.Save(run);
                resumed.Add(run.RunId);
                LogResuming(logger, run.RunId, run.Step);
            }
            else
            {
                Finish(run, RunPhase.Interrupted, $"the sidecar stopped during {run.Phase} and left no snapshot to resume from");
                LogInterrupted(logger, run.RunId);
            }
        }

        // Resumed runs go first: they were already running.
        foreach (var id in Enumerable.Reverse(resumed))
        {
            queue.AddFirst(id);
        }

        for (var i = 0; i < queue.Count; i++)
        {
            queued.Release();
        }
    }

    private void Trim()
    {
        var finished = runs.Values.Where(r => IsTerminal(r.Phase)).OrderBy(r => r.CreatedAt?.ToDateTimeOffset()).ToList();
        foreach (var old in finished.Take(Math.Max(0, runs.Count - options.RunHistory)))
        {
            runs.Remove(old.RunId);
            store.Delete(old.RunId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}, queued through another replica, joins the queue")]
    private static partial void LogTakenUp(ILogger logger, string runId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A stored run could not be read and is ignored: {Problem}")]
    private static partial void LogUnreadableRun(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} was interrupted by a restart at step {Step}; resuming it from its snapshot")]
    private static partial void LogResuming(ILogger logger, string runId, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} was interrupted by a restart and left no snapshot; marked interrupted")]
    private static partial void LogInterrupted(ILogger logger, string runId);
}
