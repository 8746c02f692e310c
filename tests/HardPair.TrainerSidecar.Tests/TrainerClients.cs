using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Runs;

namespace HardPair.TrainerSidecar.Tests;

internal static class TrainerClients
{
    public static Trainer.TrainerClient Create(GrpcChannel channel, string? token = SidecarSettings.Token) =>
        new(channel.Intercept(headers =>
        {
            if (token is not null)
            {
                headers.Add("authorization", $"Bearer {token}");
            }

            return headers;
        }));

    /// <summary>Follows the run's events until it reaches a terminal phase (or <paramref name="until"/> holds).</summary>
    public static async Task<Run> WaitAsync(this Trainer.TrainerClient client, string runId, TimeSpan timeout, Func<Run, bool>? until = null)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var call = client.WatchRun(new WatchRunRequest { RunId = runId }, cancellationToken: deadline.Token);
        Run? last = null;
        try
        {
            await foreach (var item in call.ResponseStream.ReadAllAsync(deadline.Token))
            {
                last = item.Run;
                if (RunCoordinator.IsTerminal(last.Phase) || (until?.Invoke(last) ?? false))
                {
                    return last;
                }
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
        {
            throw new TimeoutException($"run {runId} still {last?.Phase} at step {last?.Step} after {timeout}");
        }

        return last ?? throw new InvalidOperationException($"no events for run {runId}");
    }
}
