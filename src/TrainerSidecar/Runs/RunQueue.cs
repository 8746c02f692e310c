using HardPair.Protos.V1;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// The order runs wait in — operator runs before scheduled cycles but after earlier operator
/// runs, runs resumed after a restart before both — and one signal per queued run for the worker
/// to wait on. Not thread-safe except <see cref="WaitAsync"/>: <see cref="RunCoordinator"/> calls
/// the rest under its lock. The signals' semaphore is never disposed: it lives as long as the
/// coordinator, and nothing asks for its wait handle.
/// </summary>
internal sealed class RunQueue
{
    private readonly LinkedList<(string Id, RunTrigger Trigger)> order = new();
    private readonly SemaphoreSlim signals = new(0);

    public int Count => order.Count;

    /// <summary>The queued run ids, next first.</summary>
    public IEnumerable<string> Ids => order.Select(e => e.Id);

    /// <summary>A new run: an operator's after the operator runs already waiting, a cycle at the end.</summary>
    public void Enqueue(string runId, RunTrigger trigger)
    {
        var entry = (runId, trigger);
        if (trigger != RunTrigger.Operator)
        {
            order.AddLast(entry);
        }
        else if (LastOperatorRun() is { } after)
        {
            order.AddAfter(after, entry);
        }
        else
        {
            order.AddFirst(entry);
        }

        signals.Release();
    }

    /// <summary>A run read back from the state folder as queued: at the end, in the order read.</summary>
    public void Append(string runId, RunTrigger trigger)
    {
        order.AddLast((runId, trigger));
        signals.Release();
    }

    /// <summary>A run caught mid-flight by a restart: first, since it was already running.</summary>
    public void Resume(string runId, RunTrigger trigger)
    {
        order.AddFirst((runId, trigger));
        signals.Release();
    }

    /// <summary>Takes a waiting run out of the queue (cancelled); false when it is not waiting.</summary>
    public bool Remove(string runId)
    {
        for (var node = order.First; node is not null; node = node.Next)
        {
            if (node.Value.Id == runId)
            {
                order.Remove(node);
                return true;
            }
        }

        return false;
    }

    /// <summary>The next run, out of the queue; null when none waits (its signal was for a run since removed).</summary>
    public string? TakeNext()
    {
        if (order.First is not { } first)
        {
            return null;
        }

        order.RemoveFirst();
        return first.Value.Id;
    }

    /// <summary>Empties the queue and its signals (before the state folder is read again).</summary>
    public void Clear()
    {
        order.Clear();
        while (signals.Wait(0))
        {
        }
    }

    /// <summary>Waits until a run was queued since the last wait, or <paramref name="wait"/> passes (false).</summary>
    public Task<bool> WaitAsync(TimeSpan wait, CancellationToken cancellationToken) => signals.WaitAsync(wait, cancellationToken);

    private LinkedListNode<(string Id, RunTrigger Trigger)>? LastOperatorRun()
    {
        for (var node = order.Last; node is not null; node = node.Previous)
        {
            if (node.Value.Trigger == RunTrigger.Operator)
            {
                return node;
            }
        }

        return null;
    }
}
