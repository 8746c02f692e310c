using HardPair.Protos.V1;
using HardPair.Testing;
using HardPair.TrainerSidecar.Runs;

namespace HardPair.TrainerSidecar.Tests.Runs;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class RunQueueTests
{
    [Fact]
    public void Enqueue_OperatorRuns_GoBeforeCyclesButAfterEarlierOperatorRuns()
    {
        var queue = new RunQueue();

        queue.Enqueue("cycle-1", RunTrigger.Continuous);
        queue.Enqueue("operator-1", RunTrigger.Operator);
        queue.Enqueue("cycle-2", RunTrigger.Continuous);
        queue.Enqueue("operator-2", RunTrigger.Operator);

        Assert.Equal(["operator-1", "operator-2", "cycle-1", "cycle-2"], queue.Ids);
    }

    [Fact]
    public void ResumeAndAppend_ResumedRunsFirst_StoredOnesInTheOrderRead()
    {
        var queue = new RunQueue();

        queue.Append("stored-operator", RunTrigger.Operator);
        queue.Append("stored-cycle", RunTrigger.Continuous);
        queue.Resume("resumed-2", RunTrigger.Continuous);
        queue.Resume("resumed-1", RunTrigger.Operator);
        queue.Enqueue("new-operator", RunTrigger.Operator);

        Assert.Equal(["resumed-1", "resumed-2", "stored-operator", "new-operator", "stored-cycle"], queue.Ids);
    }

    [Fact]
    public void RemoveAndTakeNext_TakeRunsOut_AndASignalForARemovedRunFindsNothing()
    {
        var queue = new RunQueue();
        queue.Enqueue("a", RunTrigger.Continuous);
        queue.Enqueue("b", RunTrigger.Continuous);

        Assert.True(queue.Remove("a"));
        Assert.False(queue.Remove("a"));
        Assert.Equal("b", queue.TakeNext());
        Assert.Null(queue.TakeNext());
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task WaitAsync_OneSignalPerQueuedRun_AndClearDrainsThem()
    {
        var queue = new RunQueue();
        Assert.False(await queue.WaitAsync(TimeSpan.Zero, TestContext.Current));

        queue.Enqueue("a", RunTrigger.Continuous);
        queue.Enqueue("b", RunTrigger.Operator);
        Assert.True(await queue.WaitAsync(TimeSpan.Zero, TestContext.Current));
        Assert.True(await queue.WaitAsync(TimeSpan.Zero, TestContext.Current));
        Assert.False(await queue.WaitAsync(TimeSpan.Zero, TestContext.Current));

        queue.Enqueue("c", RunTrigger.Continuous);
        queue.Clear();
        Assert.False(await queue.WaitAsync(TimeSpan.Zero, TestContext.Current));
        Assert.Empty(queue.Ids);

        var waiting = queue.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current);
        Assert.False(waiting.IsCompleted);
        queue.Enqueue("d", RunTrigger.Continuous);
        Assert.True(await waiting);
    }
}
