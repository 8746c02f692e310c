using static TorchSharp.torch;

namespace HardPair.Testing;

public static class Tensors
{
    /// <summary>Same shape, same dtype, every element bit-for-bit equal.</summary>
    public static bool Identical(Tensor expected, Tensor actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        return expected.dtype == actual.dtype
            && expected.shape.SequenceEqual(actual.shape)
            && expected.eq(actual).all().item<bool>();
    }
}
