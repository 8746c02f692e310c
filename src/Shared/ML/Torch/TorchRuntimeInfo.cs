namespace HardPair.ML.Torch;

/// <summary>What <see cref="TorchRuntime"/> set up for this process.</summary>
public sealed record TorchRuntimeInfo(
    string Device,
    int Threads,
    bool CudaAvailable,
    NativeLoadMode NativeLoad,
    string? NativeLibraryPath,
    string TorchSharpVersion,
    bool HeapTuned,
    string OpenMpWaitPolicy);
