using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;

namespace HardPair.Bench.Serving;

/// <summary>The training sidecar as a real process (no training of its own), stopped and restarted by the soak.</summary>
internal sealed class SidecarProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly GrpcChannel channel;

    private SidecarProcess(Process process, GrpcChannel channel)
    {
        this.process = process;
        this.channel = channel;
    }

    public static async Task<SidecarProcess> StartAsync(string root, string store, string state, Uri address, Uri inferenceAdmin)
    {
        var folder = Path.Combine(root, "src", "TrainerSidecar", "bin", "Release", "net10.0");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            Path.Combine(folder, "HardPair.TrainerSidecar.dll"), "--urls", address.ToString(), "--contentRoot", folder,
            "--Checkpoints:Path", store, "--Trainer:StatePath", state, "--Trainer:Continuous", "false",
            "--Control:Token", InferenceProcess.AdminToken, "--Notify:InferenceAddress", inferenceAdmin.ToString(), "--Notify:Token", InferenceProcess.AdminToken,
            "--Logging:LogLevel:Default", "Warning", "--Torch:Device", "cpu", "--Torch:Threads", "1",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var sidecar = new SidecarProcess(process, GrpcChannel.ForAddress(address));
        await InferenceProcess.WaitUntilServingAsync(process, sidecar.channel, "the sidecar");
        return sidecar;
    }

    /// <summary>SIGTERM and wait: the orderly restart a rollout or a node drain does.</summary>
    public async Task StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        channel.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }
}
