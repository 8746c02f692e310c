using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using static TorchSharp.torch;

namespace HardPair.InferenceService.Models;

/// <summary>What a response needs to know about the model that computed it; immutable, safe to keep after the lease ends.</summary>
public sealed record ModelDescription(
    string Version,
    CheckpointManifest Manifest,
    ImageShape InputShape,
    IReadOnlyList<string> ClassNames,
    double Temperature,
    double[][] PairHardness,
    int[] HardPartners,
    double MaxPairHardness,
    double Epsilon,
    double LogitScale,
    DateTimeOffset LoadedAt);

/// <summary>A verified network in service, with the count of leases on it; disposed once retired and drained.</summary>
public sealed class ServingModel
{
    private readonly Lock gate = new();
    private int leases;
    private bool retired;
    private bool disposed;

    public ServingModel(ModelDescription description, nn.Module<Tensor, Tensor> network)
    {
        Description = description;
        Network = network;
    }

    public ModelDescription Description { get; }

    public string Version => Description.Version;

    public nn.Module<Tensor, Tensor> Network { get; }

    public int Leases
    {
        get
        {
            lock (gate)
            {
                return leases;
            }
        }
    }

    public bool IsDisposed
    {
        get
        {
            lock (gate)
            {
                return disposed;
            }
        }
    }

    internal bool TryAddLease()
    {
        lock (gate)
        {
            if (retired)
            {
                return false;
            }

            leases++;
            return true;
        }
    }

    /// <summary>A lease unless the model is retired (then it no longer takes new work).</summary>
    internal ModelLease? TryLease() => TryAddLease() ? new ModelLease(this) : null;

    /// <summary>
    /// Another lease while the weights are alive — retired or not — for one whose own hold on
    /// them may end before it is done; null once they are freed.
    /// </summary>
    internal ModelLease? TryShareLease()
    {
        lock (gate)
        {
            if (disposed || leases == 0)
            {
                return null;
            }

            leases++;
            return new ModelLease(this);
        }
    }

    internal void ReleaseLease()
    {
        lock (gate)
        {
            leases--;
            DisposeIfDrained();
        }
    }

    /// <summary>No new leases; the weights are freed when the last one is returned.</summary>
    internal void Retire()
    {
        lock (gate)
        {
            retired = true;
            DisposeIfDrained();
        }
    }

    private void DisposeIfDrained()
    {
        if (retired && leases == 0 && !disposed)
        {
            disposed = true;
            Network.Dispose();
        }
    }
}

/// <summary>A hold on a serving model: its weights stay alive until this is disposed.</summary>
public sealed class ModelLease(ServingModel model) : IDisposable
{
    private int released;

    public ServingModel Model { get; } = model;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref released, 1) == 0)
        {
            Model.ReleaseLease();
        }
    }
}
