using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Extensions;
using HardPair.TrainerSidecar.Publishing;
using HardPair.TrainerSidecar.Runs;
using Microsoft.Extensions.DependencyInjection;

namespace HardPair.TrainerSidecar.Tests.Services;

/// <summary>The control API on real Kestrel, in process: authentication and input validation.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class TrainerServiceTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Theory]
    [InlineData(null, "a bearer token is required")]
    [InlineData("wrong-token-0123456789", "the bearer token is not valid")]
    public async Task Call_WithoutTheToken_IsUnauthenticated(string? token, string message)
    {
        await using var host = await StartAsync();
        var client = TrainerClients.Create(host.Channel, token);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.GetStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartRun_BadFields_AreInvalidArgumentWithFieldViolations()
    {
        await using var host = await StartAsync();
        var client = TrainerClients.Create(host.Channel);
        var request = new StartRunRequest { Method = "madry", HyperParameters = { ["epsilon"] = 2, ["gamma"] = 1, ["schedule"] = 1.5 }, Data = new DataSelection { TrainSubset = -5 } };

        var error = await Assert.ThrowsAsync<RpcException>(() => client.StartRunAsync(request, cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var fields = error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations.Select(v => v.Field).ToList();
        Assert.Equal(["method", "hyper_parameters[epsilon]", "hyper_parameters[gamma]", "hyper_parameters[schedule]", "data.train_subset"], fields);
        Assert.Empty((await client.ListRunsAsync(new ListRunsRequest(), cancellationToken: TestContext.Current)).Runs);
    }

    [Fact]
    public async Task SubmitExamples_BadExamples_AreRefusedWholeWithTheirIndex()
    {
        await using var host = await StartAsync();
        var client = TrainerClients.Create(host.Channel);
        var request = new SubmitExamplesRequest
        {
            Examples =
            {
                new LabelledExample { Pixels = ByteString.CopyFrom(new byte[784]), Label = 3 },
                new LabelledExample { Pixels = ByteString.CopyFrom(new byte[100]), Label = 3 },
                new LabelledExample { Pixels = ByteString.CopyFrom(new byte[784]), Label = 10 },
            },
        };

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SubmitExamplesAsync(request, cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var violations = error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations;
        Assert.Equal(["examples[1].pixels", "examples[2].label"], violations.Select(v => v.Field));
        var status = await client.GetStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current);
        Assert.Equal(0, status.FeedbackExamples);
    }

    [Fact]
    public async Task GetRun_UnknownOrMissingId_IsNotFoundOrInvalid()
    {
        await using var host = await StartAsync();
        var client = TrainerClients.Create(host.Channel);

        var missing = await Assert.ThrowsAsync<RpcException>(() => client.GetRunAsync(new GetRunRequest { RunId = "run-nope" }, cancellationToken: TestContext.Current).ResponseAsync);
        var empty = await Assert.ThrowsAsync<RpcException>(() => client.CancelRunAsync(new CancelRunRequest(), cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
    }

    [Fact]
    public async Task StartRun_SameRequestIdTwice_MakesOneRun()
    {
        await using var host = await StartAsync(new Dictionary<string, string?> { ["Trainer:FirstCycleDelay"] = "00:00:00" });
        var client = TrainerClients.Create(host.Channel);
        var request = new StartRunRequest { Method = "standard", RequestId = "retry-me", Reason = "test", HyperParameters = { ["epochs"] = 0.1 } };

        var first = await client.StartRunAsync(request, cancellationToken: TestContext.Current);
        var second = await client.StartRunAsync(request, cancellationToken: TestContext.Current);
        await client.WaitAsync(first.RunId, TimeSpan.FromMinutes(2));

        Assert.Equal(first.RunId, second.RunId);
        Assert.Single((await client.ListRunsAsync(new ListRunsRequest(), cancellationToken: TestContext.Current)).Runs);
    }

    [Fact]
    public async Task Run_IsOneSpan_WithItsIdMethodTriggerAndOutcome()
    {
        var runs = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TrainerTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = runs.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await StartAsync();
        var client = TrainerClients.Create(host.Channel);

        var run = await client.StartRunAsync(new StartRunRequest { Method = "standard", Reason = "test: tracing", HyperParameters = { ["epochs"] = 0.1 } }, cancellationToken: TestContext.Current);
        var finished = await client.WaitAsync(run.RunId, TimeSpan.FromMinutes(2));

        var span = Assert.Single(runs, a => (string?)a.GetTagItem("hardpair.run.id") == run.RunId);
        Assert.Equal(TrainerTracing.RunSpan, span.OperationName);
        Assert.Equal("standard", span.GetTagItem("hardpair.run.method"));
        Assert.Equal(nameof(RunTrigger.Operator), span.GetTagItem("hardpair.run.trigger"));
        Assert.Equal(finished.Phase.ToString(), span.GetTagItem("hardpair.run.phase"));
    }

    [Fact]
    public async Task CancelRun_WhileThePublishIsBeingNotified_LeavesTheRunPublished()
    {
        var notifier = new BlockingNotifier();
        await using var host = await LoopbackHost.StartAsync(
            b =>
            {
                b.AddTrainerServices();
                b.Services.AddSingleton<ICheckpointNotifier>(notifier);
            },
            app => app.MapTrainerEndpoints(),
            SidecarSettings.For(temp, new Dictionary<string, string?> { ["Trainer:Gate:MinCleanAccuracy"] = "0" }));
        var client = TrainerClients.Create(host.Channel);

        var run = await client.StartRunAsync(new StartRunRequest { Method = "standard", Reason = "test: cancel during notify", HyperParameters = { ["epochs"] = 0.1 } }, cancellationToken: TestContext.Current);
        var version = await notifier.Entered.Task.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current);
        await client.CancelRunAsync(new CancelRunRequest { RunId = run.RunId }, cancellationToken: TestContext.Current);
        var finished = await client.WaitAsync(run.RunId, TimeSpan.FromMinutes(1));

        Assert.True(notifier.SawCancellation);
        Assert.Equal(RunPhase.Published, finished.Phase);
        Assert.Equal(version, finished.PublishedVersion);
        Assert.True(Directory.Exists(temp.Combine("store", version)));
    }

    [Fact]
    public async Task ARunWithoutAMethod_ContinuesTheServingCheckpointsMethodAndSettings_UnlessItNamesItsOwn()
    {
        await using var host = await StartAsync(new Dictionary<string, string?> { ["Trainer:Gate:MinCleanAccuracy"] = "0" });
        var client = TrainerClients.Create(host.Channel);

        // What serves was trained with PGD-AT at logit scale 2, weight decay 1e-3, the cosine
        // schedule and a weight average of decay 0.9.
        var first = await client.StartRunAsync(
            new StartRunRequest { Method = "pgd-at", Reason = "test: the serving recipe", HyperParameters = { ["epochs"] = 0.1, ["scale"] = 2, ["weightDecay"] = 1e-3, ["schedule"] = 1, ["ema"] = 0.9 } },
            cancellationToken: TestContext.Current);
        var published = await client.WaitAsync(first.RunId, TimeSpan.FromMinutes(2));
        Assert.Equal(RunPhase.Published, published.Phase);

        // A cycle (no method) fine-tunes with PGD-AT at scale 2; a run that names SPAT gets SPAT
        // with the default scale of the model's head (PGD-AT from scratch has a linear one: 1).
        var cycle = await client.StartRunAsync(new StartRunRequest { Reason = "test: a cycle", HyperParameters = { ["epochs"] = 0.1 } }, cancellationToken: TestContext.Current);
        var continued = await client.WaitAsync(cycle.RunId, TimeSpan.FromMinutes(2));
        var named = await client.StartRunAsync(new StartRunRequest { Method = "spat", Reason = "test: named", HyperParameters = { ["epochs"] = 0.1 } }, cancellationToken: TestContext.Current);
        var own = await client.WaitAsync(named.RunId, TimeSpan.FromMinutes(2));

        // Both fine-tuned to the end (the gate may take or refuse what they made).
        Assert.True(continued.Phase is RunPhase.Published or RunPhase.Rejected, $"the cycle ended {continued.Phase}: {continued.Error}");
        Assert.True(own.Phase is RunPhase.Published or RunPhase.Rejected, $"the named run ended {own.Phase}: {own.Error}");
        Assert.Equal("serving", cycle.Method);
        Assert.Equal("pgd-at", continued.Method);
        Assert.Equal(2, continued.HyperParameters["scale"]);
        Assert.Equal((1e-3, 1, 0.9), (continued.HyperParameters["weightDecay"], continued.HyperParameters["schedule"], continued.HyperParameters["ema"]));
        Assert.Equal(published.PublishedVersion, continued.ParentVersion);
        Assert.Equal("spat", own.Method);
        Assert.Equal(1, own.HyperParameters["scale"]);
        // A run with a method of its own takes the validation search's recipe instead.
        Assert.Equal((5e-4, 2, 0.995), (own.HyperParameters["weightDecay"], own.HyperParameters["schedule"], own.HyperParameters["ema"]));
        Assert.Equal("linear", new CheckpointStore(temp.Combine("store"), TimeProvider.System).List().Single(e => e.Version == published.PublishedVersion).Manifest!.Head);
    }

    [Fact]
    public async Task ARunWithoutAMethod_WithNothingServing_TrainsPgdAtOnALinearHead()
    {
        await using var host = await StartAsync(new Dictionary<string, string?> { ["Trainer:Gate:MinCleanAccuracy"] = "0" });
        var client = TrainerClients.Create(host.Channel);

        var run = await client.StartRunAsync(new StartRunRequest { Reason = "test: from scratch", HyperParameters = { ["epochs"] = 0.1 } }, cancellationToken: TestContext.Current);
        var finished = await client.WaitAsync(run.RunId, TimeSpan.FromMinutes(2));

        Assert.Equal(RunPhase.Published, finished.Phase);
        Assert.Equal("pgd-at", finished.Method);
        Assert.Equal(1, finished.HyperParameters["scale"]);
        Assert.Equal((0.1, 5e-4, 2, 0.995), (finished.HyperParameters["learningRate"], finished.HyperParameters["weightDecay"], finished.HyperParameters["schedule"], finished.HyperParameters["ema"]));
        var manifest = new CheckpointStore(temp.Combine("store"), TimeProvider.System).List().Single().Manifest!;
        Assert.Equal(("pgd-at", "linear"), (manifest.Training.Method, manifest.Head));
    }

    private Task<LoopbackHost> StartAsync(IReadOnlyDictionary<string, string?>? overrides = null) => LoopbackHost.StartAsync(
        b => b.AddTrainerServices(),
        app => app.MapTrainerEndpoints(),
        SidecarSettings.For(temp, overrides));

    /// <summary>A notification that hangs until the run's token is cancelled, then gives up as the real pipeline does.</summary>
    private sealed class BlockingNotifier : ICheckpointNotifier
    {
        public TaskCompletionSource<string> Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool SawCancellation { get; private set; }

        public bool Notify(string version, CancellationToken cancellationToken)
        {
            Entered.TrySetResult(version);
            cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMinutes(2));
            SawCancellation = cancellationToken.IsCancellationRequested;
            cancellationToken.ThrowIfCancellationRequested();
            return true;
        }
    }
}
