using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Options;
using HardPair.TrainerSidecar.Runs;
using Microsoft.Extensions.Logging.Abstractions;

namespace HardPair.TrainerSidecar.Tests.Runs;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class RunCoordinatorTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task TakeNext_OperatorRunsGoBeforeScheduledCycles_InTheirOwnOrder()
    {
        var coordinator = Create();
        var cycle = coordinator.Start(new StartRunRequest { Reason = "cycle" }, RunTrigger.Continuous);
        var first = coordinator.Start(new StartRunRequest { Reason = "first" }, RunTrigger.Operator);
        var second = coordinator.Start(new StartRunRequest { Reason = "second" }, RunTrigger.Operator);

        var order = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var next = await coordinator.TakeNextAsync(TimeSpan.FromSeconds(1), TestContext.Current);
            order.Add(next!.Value.Run.RunId);
            coordinator.Complete(next.Value.Run.RunId, RunPhase.Failed, "test");
        }

        Assert.Equal([first.RunId, second.RunId, cycle.RunId], order);
    }

    [Fact]
    public async Task Restart_KeepsQueuedRunsQueued_AndMarksARunWithNothingToResumeInterrupted()
    {
        var before = Create();
        var evaluating = before.Start(new StartRunRequest { Reason = "was evaluating" }, RunTrigger.Operator);
        var waiting = before.Start(new StartRunRequest { Reason = "waits" }, RunTrigger.Operator);
        var taken = await before.TakeNextAsync(TimeSpan.FromSeconds(1), TestContext.Current);
        Assert.Equal(evaluating.RunId, taken!.Value.Run.RunId);
        before.Update(evaluating.RunId, r => r with { Phase = RunPhase.Evaluating });

        var after = Create();

        Assert.Equal(RunPhase.Interrupted, after.Get(evaluating.RunId)!.Phase);
        Assert.Contains("left no snapshot", after.Get(evaluating.RunId)!.Error, StringComparison.Ordinal);
        Assert.Equal([waiting.RunId], after.Queued().Select(r => r.RunId));
    }

    [Fact]
    public void Restart_RemovesStagingLeftByACrash_ButNotAYoungOneAnotherReplicaMayBeWriting()
    {
        var runs = new RunStore(temp.Combine("state"));
        var crashed = Path.Combine(runs.Folder, ".run-1.json.0123.tmp");
        var inFlight = Path.Combine(runs.Folder, ".run-2.json.4567.tmp");
        File.WriteAllText(crashed, "{");
        File.WriteAllText(inFlight, "{");
        File.SetLastWriteTimeUtc(crashed, DateTime.UtcNow.AddMinutes(-5));

        Create();

        Assert.False(File.Exists(crashed));
        Assert.True(File.Exists(inFlight));
    }

    [Fact]
    public async Task Update_WhileAChangeIsBeingWritten_ReadersNeitherWaitForItNorSeeIt()
    {
        var coordinator = Create();
        var run = coordinator.Start(new StartRunRequest { Reason = "slow write" }, RunTrigger.Operator);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var writing = Task.Run(
            () => coordinator.Update(run.RunId, r =>
            {
                entered.Set();
                release.Wait(TestContext.Current);
                return r with { Phase = RunPhase.Evaluating };
            }),
            TestContext.Current);
        entered.Wait(TestContext.Current);

        var read = Task.Run(() => (coordinator.Get(run.RunId)!.Phase, coordinator.List(10).Count, coordinator.Queued().Count, coordinator.CurrentRunId), TestContext.Current);
        var first = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30), TestContext.Current));
        release.Set();
        await writing;

        Assert.Same(read, first);
        Assert.Equal((RunPhase.Queued, 1, 1, null), await read);
        Assert.Equal(RunPhase.Evaluating, coordinator.Get(run.RunId)!.Phase);
        Assert.Equal(RunPhase.Evaluating, new RunStore(temp.Combine("state")).Load(run.RunId)!.Phase);
    }

    [Fact]
    public async Task Update_FromManyThreads_LosesNoChange_AndAWatcherHearsThemInOrder()
    {
        var coordinator = Create();
        var run = coordinator.Start(new StartRunRequest { Reason = "contended" }, RunTrigger.Operator);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current);
        var heard = new List<int>();
        var watching = Task.Run(
            async () =>
            {
                await foreach (var e in coordinator.WatchAsync(run.RunId, stop.Token))
                {
                    heard.Add(e.Run.Step);
                }
            },
            TestContext.Current);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(
            () =>
            {
                for (var i = 0; i < 50; i++)
                {
                    coordinator.Update(run.RunId, r => r with { Step = r.Step + 1 }, persist: i % 10 == 0);
                }
            },
            TestContext.Current)));
        coordinator.Cancel(run.RunId, "done");
        await watching;

        Assert.Equal(400, coordinator.Get(run.RunId)!.Step);
        Assert.Equal(400, new RunStore(temp.Combine("state")).Load(run.RunId)!.Step);
        Assert.Equal(heard.Order(), heard);
        Assert.Equal(400, heard[^1]);
    }

    /// <summary>A coordinator as the sidecar starts one: constructed empty, then the state folder read by <see cref="RunRecovery"/>.</summary>
    private RunCoordinator Create()
    {
        var coordinator = new RunCoordinator(
            new RunStore(temp.Combine("state")),
            new CheckpointStore(temp.Combine("store"), TimeProvider.System),
            new RunEvents(),
            TimeProvider.System,
            Microsoft.Extensions.Options.Options.Create(new TrainerOptions { StatePath = temp.Combine("state") }),
            NullLogger<RunCoordinator>.Instance);
        new RunRecovery(coordinator, Microsoft.Extensions.Options.Options.Create(new HardPair.TrainerSidecar.Leadership.LeaderElectionOptions())).StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return coordinator;
    }
}
