using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HardPair.ML.Torch;

/// <summary>Starts Torch as the host starts, so a broken native setup fails the start, not the first request.</summary>
internal sealed partial class TorchRuntimeStartup(IOptions<TorchRuntimeOptions> options, ILogger<TorchRuntimeStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var info = TorchRuntime.Initialize(options.Value);
        LogStarted(logger, info.Device, info.Threads, info.NativeLoad, info.NativeLibraryPath ?? "(TorchSharp default)", info.TorchSharpVersion, info.HeapTuned, info.OpenMpWaitPolicy);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Torch started on {Device} with {Threads} threads; native binding {NativeLoad} from {NativePath}; TorchSharp {Version}; freed memory retained: {HeapTuned}; OpenMP wait policy: {WaitPolicy}")]
    private static partial void LogStarted(ILogger logger, string device, int threads, NativeLoadMode nativeLoad, string nativePath, string version, bool heapTuned, string waitPolicy);
}
