using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;

namespace HardPair.InferenceService.Batching;

/// <summary>A run of one call's images in a forward batch: images [Start, Start + Count).</summary>
internal readonly record struct CallSlice(PendingCall Call, int Start, int Count);

/// <summary>
/// One forward pass's work: slices of calls that are all pinned to <see cref="Lease"/>'s model,
/// and a lease of the batch's own, so a call that fails or is cancelled meanwhile cannot free the
/// weights under the forward pass.
/// </summary>
internal sealed record ForwardBatch(ModelLease Lease, IReadOnlyList<CallSlice> Slices)
{
    public int Images => Slices.Sum(s => s.Count);
}

/// <summary>
/// The calls waiting for the batcher, bounded in images, and the rule that fills a forward batch
/// from them (<see cref="QueuePolicy"/>). A forward batch is computed on one model: calls already
/// pinned to another version wait for a batch of their own, so a call never changes version.
/// </summary>
internal sealed class CallQueue(int capacity, QueuePolicy policy)
{
    private readonly Lock gate = new();
    private readonly List<PendingCall> calls = [];
    private int images;
    private bool closed;
    private TaskCompletionSource arrival = NewSignal();

    /// <summary>Images queued and not yet taken into a forward batch.</summary>
    public int Images
    {
        get
        {
            lock (gate)
            {
                return images;
            }
        }
    }

    /// <summary>Queues the call; false when its images do not fit (the caller is told the queue is full).</summary>
    public bool TryEnqueue(PendingCall call)
    {
        lock (gate)
        {
            if (closed)
            {
                throw new NoModelException();
            }

            if (images + call.Images.Count > capacity)
            {
                return false;
            }

            calls.Add(call);
            images += call.Images.Count;
            arrival.TrySetResult();
            return true;
        }
    }

    /// <summary>Takes a cancelled call's images out of the queue (what is already in a forward pass is computed and dropped).</summary>
    public void Withdraw(PendingCall call)
    {
        lock (gate)
        {
            if (calls.Remove(call))
            {
                images -= call.Untaken;
            }
        }
    }

    /// <summary>Completes once at least <paramref name="count"/> images wait, or at the next arrival.</summary>
    public Task ArrivalAsync(int count)
    {
        lock (gate)
        {
            if (images >= count)
            {
                return Task.CompletedTask;
            }

            if (arrival.Task.IsCompleted)
            {
                arrival = NewSignal();
            }

            return arrival.Task;
        }
    }

    /// <summary>
    /// The next forward batch, at most <paramref name="size"/> images, or null when nothing waits.
    /// Its model is the one the oldest live call is pinned to (or the serving model, for a call
    /// not pinned yet); calls not pinned yet are pinned to it as they join.
    /// </summary>
    public ForwardBatch? Take(int size, ModelHost host)
    {
        lock (gate)
        {
            ServingModel? model = null;
            ModelLease? batchLease = null;
            var shares = new List<(PendingCall Call, int Count)>();
            var room = size;
            foreach (var call in calls)
            {
                if (room == 0)
                {
                    break;
                }

                if (!Join(call, host, ref model, ref batchLease))
                {
                    continue;
                }

                // FIFO: a call's images in arrival order, as many as fit. Round robin: one image
                // each to every call in arrival order first, then the rest dealt in turns below.
                var count = policy == QueuePolicy.Fifo ? Math.Min(room, call.Untaken) : 1;
                shares.Add((call, count));
                room -= count;
            }

            for (var dealt = true; room > 0 && dealt;)
            {
                dealt = false;
                for (var i = 0; i < shares.Count && room > 0; i++)
                {
                    if (shares[i].Count < shares[i].Call.Untaken)
                    {
                        shares[i] = (shares[i].Call, shares[i].Count + 1);
                        room--;
                        dealt = true;
                    }
                }
            }

            var slices = new CallSlice[shares.Count];
            for (var i = 0; i < shares.Count; i++)
            {
                var (call, count) = shares[i];
                slices[i] = new CallSlice(call, call.Taken, count);
                call.Taken += count;
                images -= count;
            }

            calls.RemoveAll(call =>
            {
                if (call.Untaken > 0 && !call.IsFinished)
                {
                    return false;
                }

                images -= call.Untaken;
                return true;
            });

            if (batchLease is null || slices.Length == 0)
            {
                batchLease?.Dispose();
                return null;
            }

            return new ForwardBatch(batchLease, slices);
        }
    }

    /// <summary>Closes the queue and hands back what waits in it (the host is stopping).</summary>
    public IReadOnlyList<PendingCall> Close()
    {
        lock (gate)
        {
            closed = true;
            var left = calls.ToList();
            calls.Clear();
            images = 0;
            return left;
        }
    }

    /// <summary>
    /// Whether <paramref name="call"/> can join a batch on <paramref name="model"/> (the first that
    /// can sets it, and takes the batch's own lease on it). A call not pinned yet is pinned to the
    /// batch's model, or to the serving model when it is the first; it fails here when no model is
    /// loaded or the model it was validated against had another input shape.
    /// </summary>
    private static bool Join(PendingCall call, ModelHost host, ref ServingModel? model, ref ModelLease? batchLease)
    {
        if (call.IsFinished)
        {
            return false;
        }

        var pinned = call.PinnedTo;
        if (pinned is null)
        {
            var lease = model is null ? host.TryAcquire() : model.TryLease();
            if (lease is null)
            {
                // No model at all, or this batch is for a retired version pinned by an older
                // call: a fresh call waits for the next batch, on the serving model.
                if (model is null)
                {
                    call.Fail(new NoModelException());
                }

                return false;
            }

            var serving = lease.Model.Description;
            var validated = call.ValidatedAgainst;
            if (serving.InputShape != validated.InputShape || serving.ClassNames.Count != validated.ClassNames.Count)
            {
                lease.Dispose();
                call.Fail(new ModelChangedException($"the model changed to {serving.Version} (input {serving.InputShape}) while the request waited; retry"));
                return false;
            }

            if (!call.Pin(lease))
            {
                return false;
            }

            pinned = lease.Model;
        }

        if (model is null)
        {
            // The call may finish (cancelled) and return its lease at any moment: the batch holds
            // the weights with a lease of its own, taken while they are surely alive.
            batchLease = pinned.TryShareLease();
            if (batchLease is null)
            {
                return false;
            }

            model = pinned;
        }

        return ReferenceEquals(pinned, model);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
