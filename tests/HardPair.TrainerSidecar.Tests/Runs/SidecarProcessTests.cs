using Google.Protobuf;
using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Feedback;
using HardPair.TrainerSidecar.Runs;
using HardPair.TrainerSidecar.Tests.Feedback;
using TorchSharp;

namespace HardPair.TrainerSidecar.Tests.Runs;

/// <summary>The sidecar as a real process, real files, real kills.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Process)]
public sealed class SidecarProcessTests : IDisposable
{
    private static readonly TimeSpan Startup = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(4);
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Gate_PublishesACandidateMoreRobustThanServing_AndRejectsADivergedOne()
    {
        var serving = PublishUntrainedServingCheckpoint();
        await using var sidecar = await StartAsync();
        var client = TrainerClients.Create(sidecar.Channel);

        var better = await client.StartRunAsync(
            new StartRunRequest { Method = "pgd-at", Reason = "test: improve", HyperParameters = { ["epochs"] = 3, ["learningRate"] = 0.05 }, Data = new DataSelection { TrainSubset = 2000 } },
            cancellationToken: TestContext.Current);
        var published = await client.WaitAsync(better.RunId, RunTimeout);

        Assert.True(published.Phase == RunPhase.Published, $"{published.Phase}: {published.Error} {published.Gate?.Reason}\n{sidecar.Output}");
        Assert.True(published.Gate!.Accepted);
        Assert.Equal(serving, published.ParentVersion);
        Assert.Equal(serving, published.Gate.ServingVersion);
        Assert.True(published.Gate.CandidateRobustAccuracy > published.Gate.ServingRobustAccuracy, published.Gate.Reason);
        // The rejection below needs a serving model well above what a collapsed one keeps (about
        // 10 %, one class's share): 3 epochs of PGD-AT reach 28–31 % here, 2 of SPAT only 12–23 %.
        Assert.True(published.Gate.CandidateRobustAccuracy >= 0.2, published.Gate.Reason);
        var manifest = CheckpointReader.Verify(Path.Combine(temp.Combine("store"), published.PublishedVersion));
        Assert.Equal(better.RunId, manifest.Training.RunId);
        Assert.Equal(serving, manifest.ParentVersion);
        Assert.Equal("pgd-at", manifest.Training.Method);

        var diverged = await client.StartRunAsync(
            new StartRunRequest { Method = "standard", Reason = "test: degrade", HyperParameters = { ["epochs"] = 1, ["learningRate"] = 10 }, Data = new DataSelection { TrainSubset = 2000 } },
            cancellationToken: TestContext.Current);
        var rejected = await client.WaitAsync(diverged.RunId, RunTimeout);
        var asStored = await client.GetRunAsync(new GetRunRequest { RunId = diverged.RunId }, cancellationToken: TestContext.Current);

        Assert.True(rejected.Phase == RunPhase.Rejected, $"{rejected.Phase}: {rejected.Error} {rejected.Gate}\n{sidecar.Output}");
        Assert.False(asStored.Gate.Accepted);
        Assert.StartsWith("rejected: ", asStored.Gate.Reason, StringComparison.Ordinal);
        Assert.Equal(published.PublishedVersion, asStored.ParentVersion);
        Assert.Equal(2, new CheckpointStore(temp.Combine("store"), TimeProvider.System).List().Count);
        Assert.Equal(published.PublishedVersion, new CheckpointStore(temp.Combine("store"), TimeProvider.System).Latest()!.Version);
    }

    [Fact]
    public async Task SubmitExamples_SurviveASigkillRightAfterTheCallReturns()
    {
        var examples = FeedbackLogTests.Examples(100, seed: 9);
        await using (var sidecar = await StartAsync())
        {
            var client = TrainerClients.Create(sidecar.Channel);
            for (var batch = 0; batch < 5; batch++)
            {
                var request = new SubmitExamplesRequest { Source = "test" };
                request.Examples.AddRange(examples.Skip(batch * 20).Take(20).Select(e => new LabelledExample { Pixels = ByteString.CopyFrom(e.Pixels), Label = e.Label }));
                var reply = await client.SubmitExamplesAsync(request, cancellationToken: TestContext.Current);
                Assert.Equal((batch + 1) * 20, reply.TotalExamples);
            }

            await sidecar.KillAsync();
        }

        using var log = new FeedbackLog(temp.Combine("state", "feedback"), new Storage.Data.ImageShape(1, 28, 28));
        var stored = log.Read("feedback", Storage.Data.DatasetCatalog.FashionMnistClasses);
        Assert.Equal(100, stored.Count);
        Assert.All(Enumerable.Range(0, 100), i =>
        {
            Assert.Equal(examples[i].Label, stored.Label(i));
            Assert.Equal(examples[i].Pixels, stored.Image(i).ToArray());
        });
    }

    [Fact]
    public async Task Sidecar_StoppedThenKilledMidRun_ResumesFromItsSnapshotEachTime_AndPublishesExactlyOnce()
    {
        // The gate is not under test here: a from-scratch model of 24 steps may land near chance.
        var slow = new Dictionary<string, string?> { ["Trainer:DutyCycle"] = "0.3", ["Trainer:TrainSubset"] = "3000", ["Trainer:Epochs"] = "1", ["Trainer:Gate:MinCleanAccuracy"] = "0" };
        string runId;
        await using (var first = await StartAsync(slow))
        {
            var client = TrainerClients.Create(first.Channel);
            runId = (await client.StartRunAsync(new StartRunRequest { Method = "spat", Reason = "test: restarts" }, cancellationToken: TestContext.Current)).RunId;
            await client.WaitAsync(runId, RunTimeout, until: r => r.Step >= 4);

            // SIGTERM: the run stops at the next step and the process exits cleanly.
            Assert.Equal(0, await first.StopAsync(TimeSpan.FromSeconds(30)));
        }

        await using (var second = await StartAsync(slow))
        {
            var client = TrainerClients.Create(second.Channel);
            var resumed = await client.WaitAsync(runId, RunTimeout, until: r => r.Phase == RunPhase.Training && r.Step >= 10);
            Assert.Equal(1, resumed.Resumes);

            // SIGKILL: no shutdown code runs at all.
            await second.KillAsync();
        }

        Assert.True(Directory.EnumerateDirectories(temp.Combine("state", "runs", $"{runId}.snapshots"), "step-*").Any());
        await using var third = await StartAsync(slow);
        var restarted = TrainerClients.Create(third.Channel);
        var finished = await restarted.WaitAsync(runId, RunTimeout);

        Assert.True(finished.Phase == RunPhase.Published, $"{finished.Phase}: {finished.Error} {finished.Gate?.Reason}\n{third.Output}");
        Assert.Equal(2, finished.Resumes);
        Assert.Contains($"Run {runId} was interrupted by a restart", third.Output, StringComparison.Ordinal);
        var store = new CheckpointStore(temp.Combine("store"), TimeProvider.System);
        Assert.Single(store.List(), c => c.Manifest?.Training.RunId == runId);
        Assert.False(Directory.Exists(temp.Combine("state", "runs", $"{runId}.snapshots")));
        Assert.Single((await restarted.ListRunsAsync(new ListRunsRequest(), cancellationToken: TestContext.Current)).Runs);
    }

    [Fact]
    public async Task Sidecar_WithoutAToken_RefusesToStartAndSaysWhy()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(new Dictionary<string, string?> { ["Control:Token"] = "short" }));

        Assert.Contains("needs a bearer token of at least 16 characters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelRun_StopsARunningRunWithinAStep_AndPublishesNothing()
    {
        await using var sidecar = await StartAsync(new Dictionary<string, string?> { ["Trainer:DutyCycle"] = "0.25", ["Trainer:TrainSubset"] = "4000", ["Trainer:Epochs"] = "1" });
        var client = TrainerClients.Create(sidecar.Channel);
        var run = await client.StartRunAsync(new StartRunRequest { Method = "spat", Reason = "test: cancel" }, cancellationToken: TestContext.Current);
        await client.WaitAsync(run.RunId, RunTimeout, until: r => r.Step >= 2);

        await client.CancelRunAsync(new CancelRunRequest { RunId = run.RunId }, cancellationToken: TestContext.Current);
        var cancelled = await client.WaitAsync(run.RunId, TimeSpan.FromSeconds(30));

        Assert.Equal(RunPhase.Cancelled, cancelled.Phase);
        Assert.Equal("cancelled by an operator", cancelled.Error);
        Assert.True(cancelled.Step < cancelled.TotalSteps);
        Assert.Empty(new CheckpointStore(temp.Combine("store"), TimeProvider.System).List());
        Assert.False(Directory.Exists(temp.Combine("state", "runs", $"{run.RunId}.snapshots")));
        var status = await client.GetStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current);
        Assert.Null(status.CurrentRun);
    }

    private Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var merged = new Dictionary<string, string?>(overrides ?? new Dictionary<string, string?>());
        merged.TryAdd("Trainer:Gate:MinCleanAccuracy", "0.1");
        var settings = SidecarSettings.For(temp, merged);
        return ServiceProcess.StartAsync("HardPair.TrainerSidecar", SidecarSettings.AsArguments(settings), Startup, TestContext.Current);
    }

    /// <summary>A freshly initialised network as the serving checkpoint: about chance accuracy, clean and robust.</summary>
    private string PublishUntrainedServingCheckpoint()
    {
        torch.manual_seed(5);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var draft = TestCheckpoints.Draft() with
        {
            Training = new TrainingRecord { Method = "none", HyperParameters = new() { ["scale"] = 8, ["epsilon"] = 0.1 } },
        };
        return new CheckpointStore(temp.Combine("store"), TimeProvider.System).Publish(model, draft).Version;
    }
}
