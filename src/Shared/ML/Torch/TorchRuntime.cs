using System.ComponentModel.DataAnnotations;
using TorchSharp;

namespace HardPair.ML.Torch;

/// <summary>
/// The one entry point through which every process and test host starts Torch: loads the
/// native library (working around old libstdc++ hosts), picks the device and sets threads.
/// Idempotent; the first call's options win for the life of the process.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static TorchRuntimeInfo? current;
    private static torch.Device? device;

    /// <summary>The device chosen at initialisation.</summary>
    public static torch.Device Device => device ?? throw new InvalidOperationException("TorchRuntime.Initialize has not been called.");

    /// <summary>What was set up, or null before the first initialisation.</summary>
    public static TorchRuntimeInfo? Current => current;

    public static TorchRuntimeInfo Initialize(TorchRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (Gate)
        {
            if (current is not null)
            {
                return current;
            }

            Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
            var request = DeviceRequest.Parse(options.Device);
            var heapTuned = options.RetainFreedMemory && HeapTuning.Apply();
            if (options.PassiveWait)
            {
                OpenMpWaitPolicy.PreferPassive();
            }

            var (mode, path) = NativeBinding.Load(options.NativeCacheDirectory);

            var cudaAvailable = request.Kind != DeviceKind.Cpu && CudaAvailable();
            var chosen = Choose(request, cudaAvailable);
            torch.InitializeDeviceType(chosen.type);
            if (options.Threads > 0)
            {
                torch.set_num_threads(options.Threads);
            }

            device = chosen;
            current = new TorchRuntimeInfo(
                chosen.ToString(),
                torch.get_num_threads(),
                cudaAvailable,
                mode,
                path,
                typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
                heapTuned,
                OpenMpWaitPolicy.Current());
            return current;
        }
    }

    /// <summary>Initialises with defaults unless something already did.</summary>
    public static TorchRuntimeInfo EnsureInitialized() => current ?? Initialize(new TorchRuntimeOptions());

    private static bool CudaAvailable()
    {
        try
        {
            return torch.cuda.is_available();
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or TypeInitializationException)
        {
            return false;
        }
    }

    internal static torch.Device Choose(DeviceRequest request, bool cudaAvailable)
    {
        switch (request.Kind)
        {
            case DeviceKind.Cpu:
                return torch.CPU;
            case DeviceKind.Auto:
                return cudaAvailable ? torch.CUDA : torch.CPU;
        }

        if (!cudaAvailable)
        {
            throw new TorchRuntimeException(
                "Device 'cuda' was requested but CUDA is not available (this build uses the CPU libtorch package unless built with -p:HardPairTorchBackend=cuda, or no GPU is visible).");
        }

        var index = request.CudaIndex ?? 0;
        var count = torch.cuda.device_count();
        if (index >= count)
        {
            throw new TorchRuntimeException($"Device 'cuda:{index}' was requested but only {count} CUDA device(s) are visible.");
        }

        return new torch.Device(DeviceType.CUDA, index);
    }
}
