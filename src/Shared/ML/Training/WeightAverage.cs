using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Training;

/// <summary>
/// An exponential moving average of a model's parameters, kept beside <see cref="FlatSgd"/>'s
/// flat buffer (one element-wise update per step): a = d·a + (1 − d)·w with d warming up as
/// min(decay, (1 + t) / (10 + t)), so the first steps' random weights fade fast.
/// </summary>
internal sealed class WeightAverage : IDisposable
{
    private const int FormatVersion = 1;
    private readonly FlatSgd optimizer;
    private readonly double decay;
    private readonly Tensor average;
    private long updates;

    public WeightAverage(FlatSgd optimizer, double decay)
    {
        this.optimizer = optimizer;
        this.decay = decay;
        using var noGrad = torch.no_grad();
        average = optimizer.Values.clone().DetachFromDisposeScope();
    }

    public void Update()
    {
        using var noGrad = torch.no_grad();
        updates++;
        var d = Math.Min(decay, (1.0 + updates) / (10.0 + updates));
        average.mul_(d).add_(optimizer.Values, alpha: 1 - d);
    }

    /// <summary>Puts the average into the model's parameters.</summary>
    public void CopyInto()
    {
        using var noGrad = torch.no_grad();
        optimizer.Values.copy_(average);
    }

    /// <summary>Writes the average and its update count, for a snapshot.</summary>
    public void Save(Stream stream)
    {
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(FormatVersion);
        writer.Write(updates);
        writer.Write(average.numel());
        using var host = average.to(ScalarType.Float32, torch.CPU, copy: true);
        writer.Write(host.bytes);
    }

    /// <summary>Reads an average written by <see cref="Save"/> for parameters of the same size.</summary>
    public void Load(Stream stream)
    {
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var version = reader.ReadInt32();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Unknown weight average format {version}.");
        }

        var count = reader.ReadInt64();
        var elements = reader.ReadInt64();
        if (elements != average.numel())
        {
            throw new InvalidDataException($"The weight average holds {elements} elements; the model has {average.numel()}.");
        }

        var bytes = reader.ReadBytes(checked((int)(elements * sizeof(float))));
        if (bytes.Length != elements * sizeof(float))
        {
            throw new InvalidDataException("The weight average is truncated.");
        }

        using var noGrad = torch.no_grad();
        using var host = torch.empty(elements, ScalarType.Float32);
        host.bytes = bytes;
        average.copy_(host);
        updates = count;
    }

    public void Dispose() => average.Dispose();
}
