using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// Randomness keyed by the example itself (its pixels and the attack's seed), not by its place in
/// a batch: an attack run on the points a suite left standing then makes, for each point, the
/// same random choices as the same attack run alone on every point, so a suite's worst case is
/// never weaker than its parts for want of luck. Counter-based (SplitMix64), so a choice depends
/// only on the key and the draw's index.
/// </summary>
internal static class ExampleRandom
{
    /// <summary>One key per example of [N, …] <paramref name="images"/>: FNV-1a over its float bits, mixed with <paramref name="seed"/>.</summary>
    public static ulong[] Keys(Tensor images, long seed)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var scope = torch.NewDisposeScope();
        var flat = images.detach().to(ScalarType.Float32).cpu().contiguous();
        var count = (int)flat.shape[0];
        var size = (int)(flat.numel() / Math.Max(1, count));
        var values = flat.data<float>().ToArray();
        var bits = MemoryMarshal.Cast<float, uint>(values);
        var keys = new ulong[count];
        for (var i = 0; i < count; i++)
        {
            var hash = 14695981039346656037UL;
            foreach (var word in bits.Slice(i * size, size))
            {
                hash = (hash ^ word) * 1099511628211UL;
            }

            keys[i] = Mix(hash ^ Mix((ulong)seed));
        }

        return keys;
    }

    /// <summary>The <paramref name="index"/>-th 64-bit draw of stream <paramref name="key"/>.</summary>
    public static ulong Draw(ulong key, ulong index) => Mix(key + ((index + 1) * 0x9E3779B97F4A7C15UL));

    /// <summary>Uniform in [0, 1) from the draw.</summary>
    public static double Uniform(ulong key, ulong index) => (Draw(key, index) >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// A uniform random point of the ε-ball (within [0, 1]) for every example, drawn from its own
    /// key and <paramref name="stream"/> (so restarts and targets get fresh starts).
    /// </summary>
    public static Tensor RandomStart(Tensor origin, double epsilon, ulong[] keys, ulong stream)
    {
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(keys);
        using var scope = torch.NewDisposeScope();
        var count = keys.Length;
        var size = (int)(origin.numel() / Math.Max(1, count));
        var noise = new float[count * size];
        for (var i = 0; i < count; i++)
        {
            var key = Mix(keys[i] ^ Mix(stream));
            for (var j = 0; j < size; j++)
            {
                noise[(i * size) + j] = (float)(((2 * Uniform(key, (ulong)j)) - 1) * epsilon);
            }
        }

        var delta = torch.tensor(noise, origin.shape).to(origin.dtype).to(origin.device);
        return AttackMath.Project(origin.add(delta), origin, epsilon).MoveToOuterDisposeScope();
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
