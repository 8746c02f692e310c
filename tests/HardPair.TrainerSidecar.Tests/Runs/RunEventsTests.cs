using HardPair.Protos.V1;
using HardPair.Testing;
using HardPair.TrainerSidecar.Runs;

namespace HardPair.TrainerSidecar.Tests.Runs;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class RunEventsTests
{
    [Fact]
    public async Task Subscribe_ThenAnnounceAndFinish_GivesCurrentStateEachChangeThenTheEnd()
    {
        var events = new RunEvents();
        var run = new TrainingRun { RunId = "run-1", Phase = RunPhase.Queued };
        using var subscription = events.Subscribe(run);

        events.Announce(run with { Phase = RunPhase.Training }, "training", examplesPerSecond: 12);
        events.Announce(run with { Phase = RunPhase.Published }, "published");
        events.Finish(run.RunId);
        var seen = await subscription.Events.ReadAllAsync(TestContext.Current).ToListAsync(TestContext.Current);

        Assert.Equal(["current state", "training", "published"], seen.Select(e => e.Message));
        Assert.Equal([RunPhase.Queued, RunPhase.Training, RunPhase.Published], seen.Select(e => e.Run.Phase));
        Assert.Equal(12, seen[1].ExamplesPerSecond);
    }

    [Fact]
    public async Task Subscribe_ToAFinishedRun_GivesItsStateAndEnds()
    {
        var events = new RunEvents();
        using var subscription = events.Subscribe(new TrainingRun { RunId = "run-1", Phase = RunPhase.Rejected });

        var seen = await subscription.Events.ReadAllAsync(TestContext.Current).ToListAsync(TestContext.Current);

        Assert.Equal(RunPhase.Rejected, Assert.Single(seen).Run.Phase);
    }

    [Fact]
    public void Announce_ToASlowWatcher_KeepsTheNewest64AndNeverBlocks()
    {
        var events = new RunEvents();
        var run = new TrainingRun { RunId = "run-1", Phase = RunPhase.Training };
        using var subscription = events.Subscribe(run);

        for (var step = 1; step <= 200; step++)
        {
            events.Announce(run with { Step = step }, $"step {step}");
        }

        var kept = new List<RunChange>();
        while (subscription.Events.TryRead(out var item))
        {
            kept.Add(item);
        }

        Assert.Equal(64, kept.Count);
        Assert.Equal(200, kept[^1].Run.Step);
    }

    [Fact]
    public void Dispose_OfASubscription_StopsItsEvents()
    {
        var events = new RunEvents();
        var run = new TrainingRun { RunId = "run-1", Phase = RunPhase.Training };
        var subscription = events.Subscribe(run);
        Assert.True(subscription.Events.TryRead(out _));

        subscription.Dispose();
        events.Announce(run, "after");

        Assert.False(subscription.Events.TryRead(out _));
    }
}
