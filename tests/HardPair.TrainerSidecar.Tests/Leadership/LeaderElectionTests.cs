using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Extensions;
using k8s.LeaderElection;
using Microsoft.Extensions.DependencyInjection;

namespace HardPair.TrainerSidecar.Tests.Leadership;

/// <summary>
/// Two sidecars on one store and state folder, electing through a fake Lease. The elector is
/// KubernetesClient's and keeps its own clock (its lease, renew and retry periods run on real
/// time; it takes no <see cref="TimeProvider"/>), so these tests use short real leases and read
/// the replicas' status as the election proceeds — the one place the suite samples over time —
/// while everything of ours they exercise (runs, feedback, the takeover) is awaited as an event.
/// </summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
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

    [Fact]
    public async Task Follower_StartsListsAndCancelsRuns_ThroughTheSharedStateFolder()
    {
        await using var a = await StartAsync("sidecar-a");
        await using var b = await StartAsync("sidecar-b");
        var (leader, follower) = await LeaderAndFollowerAsync(a, b);
        var followerClient = TrainerClients.Create(follower.Channel);
        var leaderClient = TrainerClients.Create(leader.Channel);

        var request = new StartRunRequest { Method = "pgd-at", Reason = "test: cancel through a follower", RequestId = "retried-once" };
        var run = await followerClient.StartRunAsync(request, cancellationToken: TestContext.Current);
        var again = await followerClient.StartRunAsync(request, cancellationToken: TestContext.Current);
        Assert.Equal(run.RunId, again.RunId);

        // The caller's next call may land on the leader before its next look at the folder.
        Assert.Equal(run.RunId, (await leaderClient.GetRunAsync(new GetRunRequest { RunId = run.RunId }, cancellationToken: TestContext.Current)).RunId);

        // The leader trains it; the follower follows its saved state.
        await followerClient.WaitAsync(run.RunId, TimeSpan.FromMinutes(2), until: r => r.Phase == RunPhase.Training && r.Step >= 2);
        Assert.Contains((await followerClient.ListRunsAsync(new ListRunsRequest(), cancellationToken: TestContext.Current)).Runs, r => r.RunId == run.RunId);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => followerClient.GetRunAsync(new GetRunRequest { RunId = "../feedback/feedback" }, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        await followerClient.CancelRunAsync(new CancelRunRequest { RunId = run.RunId }, cancellationToken: TestContext.Current);
        var cancelled = await followerClient.WaitAsync(run.RunId, TimeSpan.FromMinutes(1));

        Assert.Equal(RunPhase.Cancelled, cancelled.Phase);
        Assert.Equal("cancelled by an operator", cancelled.Error);
        Assert.Equal(RunPhase.Cancelled, (await leaderClient.GetRunAsync(new GetRunRequest { RunId = run.RunId }, cancellationToken: TestContext.Current)).Phase);
        Assert.Empty(Directory.EnumerateFiles(temp.Combine("state", "runs"), "*.cancel"));
        Assert.DoesNotContain(new CheckpointStore(temp.Combine("store"), TimeProvider.System).List(), c => c.Manifest?.Training.RunId == run.RunId);
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

        // An operator's calls land on whichever replica the Service picks: here the follower.
        // It keeps the examples in a file of its own, and leaves the run for the leader.
        var followerClient = TrainerClients.Create(follower.Channel);
        var submitted = await followerClient.SubmitExamplesAsync(Examples(40), cancellationToken: TestContext.Current);
        Assert.Equal(40, submitted.TotalExamples);
        var run = await followerClient.StartRunAsync(new StartRunRequest { Method = "spat", Reason = "test: takeover" }, cancellationToken: TestContext.Current);
        Assert.Equal(RunPhase.Queued, run.Phase);
        var training = await followerClient.WaitAsync(run.RunId, TimeSpan.FromMinutes(2), until: r => r.Step >= 3);
        Assert.Equal(40, training.FeedbackExamples);
        var followerStatus = await followerClient.GetStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current);
        Assert.False(followerStatus.Leader);
        Assert.Equal(run.RunId, followerStatus.CurrentRun?.RunId);
        Assert.Equal(40, followerStatus.FeedbackExamples);
        var leaderStatus = await TrainerClients.Create(leader.Channel).GetStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current);
        Assert.Equal(run.RunId, leaderStatus.CurrentRun?.RunId);
        Assert.Equal(40, leaderStatus.FeedbackExamples);
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

    private static SubmitExamplesRequest Examples(int count)
    {
        var request = new SubmitExamplesRequest { Source = "test: through a follower" };
        foreach (var (pixels, label) in Feedback.FeedbackLogTests.Examples(count, seed: 11))
        {
            request.Examples.Add(new LabelledExample { Pixels = Google.Protobuf.ByteString.CopyFrom(pixels), Label = label });
        }

        return request;
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
