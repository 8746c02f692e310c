namespace HardPair.InferenceService.Models;

/// <summary>
/// The serving slot. A lease pins the model that was current when it was taken; a swap replaces
/// the slot atomically and retires the old model, whose weights are freed when its last lease
/// is returned. So a request (or a batch) always runs on one version from start to end.
/// </summary>
public sealed class ModelHost : IDisposable
{
    private readonly Lock gate = new();
    private ServingModel? current;

    /// <summary>Raised after every swap with the new model's description.</summary>
    public event Action<ModelDescription>? Swapped;

    public ModelDescription? Current
    {
        get
        {
            lock (gate)
            {
                return current?.Description;
            }
        }
    }

    /// <summary>A lease on the current model, or null when none is loaded.</summary>
    public ModelLease? TryAcquire()
    {
        lock (gate)
        {
            // The current model is never retired while it is current, so this cannot fail.
            return current is not null && current.TryAddLease() ? new ModelLease(current) : null;
        }
    }

    public void Swap(ServingModel next)
    {
        ArgumentNullException.ThrowIfNull(next);
        ServingModel? previous;
        lock (gate)
        {
            previous = current;
            current = next;
        }

        previous?.Retire();
        Swapped?.Invoke(next.Description);
    }

    public void Dispose()
    {
        lock (gate)
        {
            current?.Retire();
            current = null;
        }
    }
}
