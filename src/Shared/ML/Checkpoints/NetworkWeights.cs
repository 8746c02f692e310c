using static TorchSharp.torch;

namespace HardPair.ML.Checkpoints;

/// <summary>A network's weights (buffers included) as the bytes a checkpoint's <c>model.bin</c> holds, and back.</summary>
public static class NetworkWeights
{
    /// <summary>The weights of <paramref name="model"/>, serialized.</summary>
    public static byte[] Of(nn.Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var buffer = new MemoryStream();
        // save closes the stream; ToArray still reads a closed MemoryStream.
        model.save(buffer);
        return buffer.ToArray();
    }

    /// <summary>Loads <paramref name="weights"/> into <paramref name="model"/>, strictly: every parameter and buffer must match.</summary>
    public static void LoadInto(nn.Module<Tensor, Tensor> model, ArraySegment<byte> weights)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var stream = new MemoryStream(weights.Array!, weights.Offset, weights.Count, writable: false);
        model.load(stream, strict: true);
    }
}
