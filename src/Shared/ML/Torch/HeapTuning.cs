using System.Runtime.InteropServices;

namespace HardPair.ML.Torch;

/// <summary>
/// Keeps libtorch's freed CPU buffers in the heap for the next forward pass. glibc's malloc hands
/// blocks above its mmap threshold (128 KiB at first, adapting upwards) back to the kernel on
/// free, and trims free memory off the heap top beyond its trim threshold (adapting too); a
/// batch's activations (MiBs) are then mapped and page-faulted afresh on every pass. Measured on
/// the serving model (bench/Serving, one core): batch 64 ran at 60–70% of batch 32's images/s
/// with glibc's defaults and on a par with it once the thresholds were fixed.
/// </summary>
internal static partial class HeapTuning
{
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD

    /// <summary>glibc's ceiling for M_MMAP_THRESHOLD on 64-bit hosts (HEAP_MAX_SIZE / 2).</summary>
    public const int MmapThresholdBytes = 32 * 1024 * 1024;

    /// <summary>How much free memory the heap top may keep before glibc trims it.</summary>
    public const int TrimThresholdBytes = 512 * 1024 * 1024;

    /// <summary>Applies the thresholds; false where the C library is not glibc or refused them.</summary>
    public static bool Apply()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return Mallopt(MmapThreshold, MmapThresholdBytes) == 1 && Mallopt(TrimThreshold, TrimThresholdBytes) == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
