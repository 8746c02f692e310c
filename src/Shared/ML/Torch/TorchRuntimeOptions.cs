using System.ComponentModel.DataAnnotations;

namespace HardPair.ML.Torch;

/// <summary>How a process runs Torch: which device and how many CPU threads.</summary>
public sealed class TorchRuntimeOptions
{
    public const string SectionName = "Torch";

    /// <summary><c>auto</c> (CUDA when present, else CPU), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    [Required]
    [RegularExpression("^(auto|cpu|cuda(:[0-9]+)?)$", ErrorMessage = "Device must be auto, cpu, cuda or cuda:N.")]
    public string Device { get; set; } = "auto";

    /// <summary>Intra-op CPU threads; 0 keeps libtorch's default (one per core).</summary>
    [Range(0, 1024)]
    public int Threads { get; set; }

    /// <summary>
    /// Keep freed CPU tensor buffers in the process heap (glibc thresholds fixed at 32 MiB mmap /
    /// 512 MiB trim) instead of returning and re-faulting them on every batch. Costs resident
    /// memory up to the largest working set seen per thread that runs Torch (glibc keeps an
    /// arena per thread); see <see cref="HeapTuning"/>.
    /// </summary>
    public bool RetainFreedMemory { get; set; } = true;

    /// <summary>
    /// Let libtorch's idle OpenMP threads sleep at once instead of spinning
    /// (<c>OMP_WAIT_POLICY=PASSIVE</c>, unless the variable is already set): for processes whose
    /// other threads need the CPUs — the inference service's request handling — and for pods whose
    /// CPU limit spinning would use up. See <see cref="OpenMpWaitPolicy"/>.
    /// </summary>
    public bool PassiveWait { get; set; }

    /// <summary>
    /// Where a patched copy of the native binding is kept on hosts whose libstdc++ is too old.
    /// Empty: <c>$HARDPAIR_NATIVE_CACHE</c>, else <c>$XDG_CACHE_HOME/hardpair</c>, else
    /// <c>~/.cache/hardpair</c>, else the temp folder.
    /// </summary>
    public string? NativeCacheDirectory { get; set; }
}
