using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Shared.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Extensions;
using k8s.LeaderElection;
using Microsoft.Extensions.DependencyInjection;

namespace HardPair.TrainerSidecar.Tests.Leadership;

/// <summary>Two sidecars on one store and state folder, electing through a fake Lease.</summary>
[Collection(TorchCollection.Name)]
public sealed class LeaderElectionTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly FakeLease lease = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task TwoSidecars_OneTrains_TheOtherTakesOverWhenItStops_AndTheRunIsPublishedOnce()
    {
        var a = await StartAsync("sidecar-a");
        var b = await StartAsync("sidecar-b");
        var stopped = new HashSet<LoopbackHost>();
        try
        {
            await RunScenarioAsync(a, b, stopped);
        }
        finally
        {
            foreach (var host in new[] { a, b }.Where(stopped.Add))
            {
                await host.DisposeAsync();
            }
        }
    }

    private async Task RunScenarioAsync(LoopbackHost a, LoopbackHost b, HashSet<LoopbackHost> stopped)
    {
        using var watch = new CancellationTokenSource();
        var bothLed = 0;
        var monitor = Task.Run(async () =>
        {
            while (!watch.IsCancellationRequested)
            {
                var statuses = await Task.WhenAll(Status(a), Status(b));
                if (statuses.All(s => s?.Leader == true))
                {
                    Interlocked.Increment(ref bothLed);
                }

                await Task.Delay(50);
            }
        });

        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        var refused = await Assert.ThrowsAsync<RpcException>(() => TrainerClients.Create(follower.Channel).StartRunAsync(new StartRunRequest { Method = "spat" }, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains($"{lease.Holder} does", refused.Status.Detail, StringComparison.Ordinal);

        var leaderClient = TrainerClients.Create(leader.Channel);
        var run = await leaderClient.StartRunAsync(new StartRunRequest { Method = "spat", Reason = "test: takeover" }, cancellationToken: TestContext.Current);
        await leaderClient.WaitAsync(run.RunId, TimeSpan.FromMinutes(2), until: r => r.Step >= 3);
        var firstLeader = lease.Holder;
        stopped.Add(leader);
        await leader.DisposeAsync();

        var takenOver = TrainerClients.Create(follower.Channel);
        var finished = await takenOver.WaitAsync(await WaitForRunAsync(takenOver, run.RunId), TimeSpan.FromMinutes(3));
        await watch.CancelAsync();
        await monitor;

        Assert.NotEqual(firstLeader, lease.Holder);
        Assert.True(finished.Phase == RunPhase.Published, $"{finished.Phase}: {finished.Error} {finished.Gate?.Reason}");
        Assert.Equal(1, finished.Resumes);
        Assert.Single(new CheckpointStore(temp.Combine("store"), TimeProvider.System).List(), c => c.Manifest?.Training.RunId == run.RunId);
        Assert.Equal(0, bothLed);
    }

    private async Task<(LoopbackHost Leader, LoopbackHost Follower)> LeaderAndFollowerAsync(LoopbackHost a, LoopbackHost b)
    {
        for (var i = 0; i < 100; i++)
        {
            var (sa, sb) = (await Status(a), await Status(b));
            // Settled: one leads, and the other has seen who.
            if (sa?.Leader == true && sb is { Leader: false } && sb.LeaderIdentity == lease.Holder)
            {
                return (a, b);
            }

            if (sb?.Leader == true && sa is { Leader: false } && sa.LeaderIdentity == lease.Holder)
            {
                return (b, a);
            }

            await Task.Delay(100, TestContext.Current);
        }

        throw new TimeoutException("no leader was elected");
    }

    /// <summary>The new leader has reloaded the shared runs once it knows the run.</summary>
    private static async Task<string> WaitForRunAsync(Trainer.TrainerClient client, string runId)
    {
        for (var i = 0; i < 200; i++)
        {
            var status = await client.GetStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current);
            if (status.Leader)
            {
                try
                {
                    await client.GetRunAsync(new GetRunRequest { RunId = runId }, cancellationToken: TestContext.Current);
                    return runId;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
                {
                }
            }

            await Task.Delay(100, TestContext.Current);
        }

        throw new TimeoutException("the other sidecar never took over");
    }

    private static async Task<TrainerStatus?> Status(LoopbackHost host)
    {
        try
        {
            return await TrainerClients.Create(host.Channel).GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(2));
        }
        catch (Exception ex) when (ex is RpcException or ObjectDisposedException or InvalidOperationException)
        {
            return null;
        }
    }

    private Task<LoopbackHost> StartAsync(string identity) => LoopbackHost.StartAsync(
        b =>
        {
            b.AddTrainerServices();
            b.Services.AddSingleton<ILock>(lease.LockFor(identity));
        },
        app => app.MapTrainerEndpoints(),
        SidecarSettings.For(temp, new Dictionary<string, string?>
        {
            ["LeaderElection:Enabled"] = "true",
            ["LeaderElection:Identity"] = identity,
            ["LeaderElection:LeaseDuration"] = "2s",
            ["Trainer:DutyCycle"] = "0.3",
            ["Trainer:TrainSubset"] = "2000",
            ["Trainer:Epochs"] = "1",
            ["Trainer:Gate:MinCleanAccuracy"] = "0", // the gate is not under test here
        }));
}
