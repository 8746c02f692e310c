using System.Net;
using System.Net.Sockets;

namespace HardPair.Testing;

/// <summary>
/// A TCP relay on a loopback port whose answers (server → client) can be held back for a while:
/// requests still reach the server and are handled, but the responses arrive late — a timeout
/// that the client retries although the server did the work.
/// </summary>
public sealed class PausingProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly int targetPort;
    private readonly CancellationTokenSource stop = new();
    private readonly List<Task> relays = [];
    private readonly Task accepting;
    private TaskCompletionSource flowing = Flowing();

    public PausingProxy(int targetPort)
    {
        this.targetPort = targetPort;
        listener.Start();
        accepting = AcceptAsync();
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");

    /// <summary>Holds every answer back from now for <paramref name="duration"/>, then lets them all through.</summary>
    public void HoldAnswersFor(TimeSpan duration)
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref flowing, held);
        _ = Task.Delay(duration, stop.Token).ContinueWith(_ => held.TrySetResult(), TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        listener.Stop();
        await Task.WhenAll([accepting, .. relays]).ContinueWith(_ => { }, TaskScheduler.Default);
        stop.Dispose();
    }

    private static TaskCompletionSource Flowing()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            var client = await listener.AcceptTcpClientAsync(stop.Token);
            var server = new TcpClient { NoDelay = true };
            await server.ConnectAsync(IPAddress.Loopback, targetPort, stop.Token);
            client.NoDelay = true;
            lock (relays)
            {
                relays.Add(RelayAsync(client, server));
            }
        }
    }

    private async Task RelayAsync(TcpClient client, TcpClient server)
    {
        using (client)
        using (server)
        {
            var up = PumpAsync(client.GetStream(), server.GetStream(), held: false);
            var down = PumpAsync(server.GetStream(), client.GetStream(), held: true);
            await Task.WhenAny(up, down);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool held)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, stop.Token)) > 0)
            {
                if (held)
                {
                    await Volatile.Read(ref flowing).Task.WaitAsync(stop.Token);
                }

                await to.WriteAsync(buffer.AsMemory(0, read), stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The connection or the proxy is gone.
        }
    }
}
