using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HardPair.ML.Training;

/// <summary>
/// SGD with momentum and weight decay — PyTorch's update rule (<c>d = g + λ·w</c>; the first
/// step's velocity is <c>d</c>, later ones <c>v = μ·v + d</c>; <c>w -= lr·v</c>) — applied to all
/// of a model's parameters at once. The parameters and their gradients are moved into two flat
/// buffers (each parameter becomes a view of its slice, each gradient likewise, and backward
/// accumulates into the views), so a step is three element-wise operations and
/// <see cref="ZeroGrad"/> one, whatever the number of parameters. TorchSharp's
/// <c>optim.SGD</c> makes four calls per parameter and the optimizer's zeroing one more, each a
/// kernel launch on an accelerator; PyTorch uses multi-tensor kernels for the same reason.
/// </summary>
/// <remarks>
/// Parameters that get no gradient in a step still decay and keep their momentum (their gradient
/// slice is zero), where <c>optim.SGD</c> would skip them; every network here uses all of its
/// parameters in every step. The parameters stay views of the buffer after the optimizer is
/// disposed (the storage lives as long as they do).
/// </remarks>
public sealed class FlatSgd : IDisposable
{
    private readonly Tensor values;
    private readonly Tensor gradients;
    private Tensor? velocity;

    public FlatSgd(IEnumerable<Parameter> parameters, double learningRate, double momentum, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(learningRate);
        ArgumentOutOfRangeException.ThrowIfNegative(momentum);
        ArgumentOutOfRangeException.ThrowIfNegative(weightDecay);
        var trained = parameters.Where(p => p.requires_grad).ToArray();
        if (trained.Length == 0)
        {
            throw new ArgumentException("There is no parameter to train.", nameof(parameters));
        }

        var first = trained[0];
        if (trained.Any(p => p.dtype != first.dtype || p.device_type != first.device_type || p.device_index != first.device_index))
        {
            throw new ArgumentException("All parameters must share one element type and device.", nameof(parameters));
        }

        LearningRate = learningRate;
        Momentum = momentum;
        WeightDecay = weightDecay;
        Count = trained.Sum(p => p.numel());

        using var noGrad = torch.no_grad();
        values = torch.empty(Count, first.dtype, first.device).DetachFromDisposeScope();
        gradients = torch.zeros(Count, first.dtype, first.device).DetachFromDisposeScope();
        var offset = 0L;
        foreach (var parameter in trained)
        {
            var length = parameter.numel();
            using (var slot = values.narrow(0, offset, length).view(parameter.shape))
            {
                slot.copy_(parameter);
                parameter.set_(slot);
            }

            using (var slot = gradients.narrow(0, offset, length).view(parameter.shape))
            {
                parameter.grad = slot;
            }

            offset += length;
        }
    }

    /// <summary>The parameters' flat buffer (every trained parameter is a view of its slice).</summary>
    internal Tensor Values => values;

    /// <summary>The number of trained elements (the length of the flat buffers).</summary>
    public long Count { get; }

    public double LearningRate { get; set; }

    public double Momentum { get; }

    public double WeightDecay { get; }

    /// <summary>The velocity (momentum buffer), or null before the first step; for tests and snapshots.</summary>
    public Tensor? Velocity => velocity;

    public void ZeroGrad()
    {
        using var noGrad = torch.no_grad();
        gradients.zero_();
    }

    public void Step()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var direction = WeightDecay == 0 ? gradients : gradients.add(values, alpha: WeightDecay);
        if (Momentum != 0)
        {
            if (velocity is null)
            {
                velocity = direction.clone().DetachFromDisposeScope();
            }
            else
            {
                velocity.mul_(Momentum).add_(direction);
            }

            direction = velocity;
        }

        values.add_(direction, alpha: -LearningRate);
    }

    /// <summary>Writes the velocity (element type float32 on the host, little-endian).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(FormatVersion);
        writer.Write(Count);
        writer.Write(velocity is not null);
        if (velocity is not null)
        {
            using var host = velocity.to(ScalarType.Float32, torch.CPU, copy: true);
            writer.Write(host.bytes);
        }
    }

    /// <summary>Reads a velocity written by <see cref="Save"/> for parameters of the same size.</summary>
    public void Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var version = reader.ReadInt32();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Unknown optimizer state format {version}.");
        }

        var count = reader.ReadInt64();
        if (count != Count)
        {
            throw new InvalidDataException($"The optimizer state holds {count} elements; the model has {Count}.");
        }

        if (!reader.ReadBoolean())
        {
            SetVelocity(null);
            return;
        }

        var bytes = reader.ReadBytes(checked((int)(count * sizeof(float))));
        if (bytes.Length != count * sizeof(float))
        {
            throw new InvalidDataException("The optimizer state ends early.");
        }

        using var host = torch.empty(count, ScalarType.Float32);
        host.bytes = bytes;
        SetVelocity(host);
    }

    /// <summary>Replaces the velocity with a copy of <paramref name="source"/> (any device, <see cref="Count"/> elements), or clears it.</summary>
    public void SetVelocity(Tensor? source)
    {
        velocity?.Dispose();
        velocity = null;
        if (source is null)
        {
            return;
        }

        if (source.numel() != Count)
        {
            throw new ArgumentException($"A velocity of {source.numel()} elements for {Count} parameters' elements.", nameof(source));
        }

        using var noGrad = torch.no_grad();
        using var flat = source.reshape(Count);
        velocity = flat.to(values.dtype, values.device, copy: true).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        velocity?.Dispose();
        values.Dispose();
        gradients.Dispose();
    }

    private const int FormatVersion = 1;
}
