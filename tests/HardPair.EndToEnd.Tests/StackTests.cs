using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>The services as separate processes, as operators run them.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class StackTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(4);

    [Theory]
    [InlineData("end-to-end-signing-key-0123456789abcdef")]
    [InlineData(Stack.EcdsaSigning)]
    public async Task Retraining_TriggeredThroughAdmin_IsGatedPublishedAndSwappedIn_WithoutAFailedCall(string signingKey)
    {
        // Signed, as Helm deploys it: the trainer signs what it publishes, inference requires it
        // (with an HMAC key both hold; with ECDSA inference holds only the public key).
        await using var stack = Stack.Create(signingKey: signingKey);
        await stack.StartInferenceAsync(TestContext.Current);
        await stack.StartSidecarAsync(TestContext.Current);
        var classifier = stack.Classifier();
        var admin = stack.Admin();
        using var load = new Load(classifier);

        var run = await admin.TriggerRetrainingAsync(new StartRunRequest { Reason = "end-to-end" }, cancellationToken: TestContext.Current);
        var finished = await WatchAsync(admin, run.RunId);
        Assert.True(finished.Phase == RunPhase.Published, $"{finished.Phase}: {finished.Error} {finished.Gate?.Reason}\n{stack.Sidecar!.Output}");
        var published = finished.PublishedVersion;
        await load.WaitForAsync(published, TimeSpan.FromSeconds(30));
        var versions = await load.StopAsync();

        Assert.Equal(0, load.Failures);
        Assert.Equal(Stack.BootstrapVersion, versions[0]);
        Assert.Equal(published, versions[^1]);
        Assert.All(versions, v => Assert.Contains(v, new[] { Stack.BootstrapVersion, published }));
        var models = await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);
        Assert.Equal(published, models.ServingVersion);
        Assert.Equal(Stack.BootstrapVersion, Assert.Single(models.Models, m => m.Version == published).ParentVersion);
        Assert.True(File.Exists(Path.Combine(stack.Store, published, CheckpointFiles.Signature)), "the trainer did not sign what it published");
        // A retraining cycle and admin calls through both pipelines (forwarding, notification):
        // nothing per successful call from Polly at information.
        foreach (var process in new[] { stack.Inference!, stack.Sidecar! })
        {
            Assert.DoesNotMatch("info: Polly|Execution attempt|Resilience pipeline executed", process.Output);
        }
        if (signingKey == Stack.EcdsaSigning)
        {
            Assert.StartsWith("ecdsa-p256-sha256:", File.ReadAllText(Path.Combine(stack.Store, published, CheckpointFiles.Signature)), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(stack.Store, Stack.BootstrapVersion, CheckpointFiles.Signature)), "the bootstrap copy is served unsigned, trusted as the image's");
        }
    }

    [Fact]
    public async Task SidecarKilledMidRun_ClassifyIsUnaffected_AndTheRestartedSidecarResumesTheRun()
    {
        await using var stack = Stack.Create(new Dictionary<string, string?> { ["Trainer:DutyCycle"] = "0.3", ["Trainer:Epochs"] = "1" });
        await stack.StartInferenceAsync(TestContext.Current);
        await stack.StartSidecarAsync(TestContext.Current);
        var admin = stack.Admin();
        using var load = new Load(stack.Classifier());

        var run = await admin.TriggerRetrainingAsync(new StartRunRequest { Reason = "end-to-end: crash" }, cancellationToken: TestContext.Current);
        await WatchAsync(admin, run.RunId, until: r => r.Step >= 4);
        await stack.Sidecar!.KillAsync();

        var down = await Assert.ThrowsAsync<RpcException>(() => admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, down.StatusCode);
        // Classification goes on while the sidecar is down: twenty more answers, no failure.
        await load.WaitForMoreAnswersAsync(20, TimeSpan.FromSeconds(30));
        Assert.Equal(0, load.Failures);

        await stack.StartSidecarAsync(TestContext.Current);
        await UntilReachableAsync(admin);
        var finished = await WatchAsync(admin, run.RunId);
        await load.StopAsync();

        Assert.True(finished.Phase is RunPhase.Published or RunPhase.Rejected, $"{finished.Phase}: {finished.Error}");
        Assert.Equal(1, finished.Resumes);
        Assert.Equal(0, load.Failures);
        Assert.True(load.Answers > 20, $"{load.Answers} answers");
    }

    [Fact]
    public async Task InferenceKilledMidRun_TheRunFinishesAndIsKept_AndTheRestartedServiceServesItsResult()
    {
        await using var stack = Stack.Create(new Dictionary<string, string?>
        {
            ["Trainer:DutyCycle"] = "0.3",
            ["Trainer:Epochs"] = "1",
            // Give up notifying quickly: the inference service is down when the run publishes.
            ["Notify:Retries"] = "1",
            ["Notify:AttemptTimeout"] = "00:00:00.500",
        });
        await stack.StartInferenceAsync(TestContext.Current);
        await stack.StartSidecarAsync(TestContext.Current);
        var admin = stack.Admin();

        var run = await admin.TriggerRetrainingAsync(new StartRunRequest { Reason = "end-to-end: inference crash" }, cancellationToken: TestContext.Current);
        await WatchAsync(admin, run.RunId, until: r => r.Step >= 2);
        await stack.Inference!.KillAsync();

        // The sidecar trains on alone; its own API (the token holder's view) reports the run.
        var trainer = stack.TrainerControl();
        Run finished;
        using (var deadline = new CancellationTokenSource(RunTimeout))
        {
            using var watch = trainer.WatchRun(new WatchRunRequest { RunId = run.RunId }, cancellationToken: deadline.Token);
            finished = run;
            await foreach (var change in watch.ResponseStream.ReadAllAsync(deadline.Token))
            {
                finished = change.Run;
                if (finished.Phase is not (RunPhase.Queued or RunPhase.Training or RunPhase.Evaluating or RunPhase.Publishing))
                {
                    break;
                }
            }
        }

        Assert.True(finished.Phase is RunPhase.Published or RunPhase.Rejected, $"{finished.Phase}: {finished.Error}\n{stack.Sidecar!.Output}");
        await stack.StartInferenceAsync(TestContext.Current);
        var serving = (await stack.Classifier().GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current)).Version;
        var kept = await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);

        Assert.Equal(finished.Phase == RunPhase.Published ? finished.PublishedVersion : Stack.BootstrapVersion, serving);
        Assert.Equal(serving, kept.ServingVersion);
        // The run record survived too: asked through the restarted service, it is the same run.
        Assert.Equal(finished.Phase, (await trainer.GetRunAsync(new GetRunRequest { RunId = run.RunId }, cancellationToken: TestContext.Current)).Phase);
    }

    [Fact]
    public async Task InferenceRestarted_ServesTheLatestVerifiedCheckpoint_NotABrokenNewerOne()
    {
        await using var stack = Stack.Create();
        var newer = stack.CopyCheckpoint(Stack.BootstrapVersion, "v29990101T000000000Z-0000000a");
        var broken = stack.CopyCheckpoint(Stack.BootstrapVersion, "v29990101T000000001Z-0000000b");
        File.WriteAllBytes(Path.Combine(stack.Store, broken, CheckpointFiles.Weights), [1, 2, 3]);

        await stack.StartInferenceAsync(TestContext.Current);
        var first = await stack.Classifier().GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);
        await stack.Inference!.KillAsync();
        await stack.StartInferenceAsync(TestContext.Current);
        var second = await stack.Classifier().GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);
        var models = await stack.Admin().ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);

        Assert.Equal(newer, first.Version);
        Assert.Equal(newer, second.Version);
        Assert.Equal(ModelState.Refused, Assert.Single(models.Models, m => m.Version == broken).State);
    }

    /// <summary>What an operator does after a restart: ask until the forwarded API answers again.</summary>
    private static async Task UntilReachableAsync(Admin.AdminClient admin)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: TestContext.Current);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && attempt < 50)
            {
                await Task.Delay(200, TestContext.Current);
            }
        }
    }

    private static async Task<Run> WatchAsync(Admin.AdminClient admin, string runId, Func<Run, bool>? until = null)
    {
        using var deadline = new CancellationTokenSource(RunTimeout);
        using var call = admin.WatchTraining(new WatchRunRequest { RunId = runId }, cancellationToken: deadline.Token);
        Run? last = null;
        await foreach (var item in call.ResponseStream.ReadAllAsync(deadline.Token))
        {
            last = item.Run;
            if (last.Phase is RunPhase.Published or RunPhase.Rejected or RunPhase.Failed or RunPhase.Cancelled or RunPhase.Interrupted || (until?.Invoke(last) ?? false))
            {
                return last;
            }
        }

        return last ?? throw new InvalidOperationException("no events");
    }

    /// <summary>Four callers classifying test images in a loop, recording every answer's version in order.</summary>
    private sealed class Load : IDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly ConcurrentQueue<string> versions = new();
        private readonly SemaphoreSlim answered = new(0);
        private readonly List<Task> callers;
        private int failures;

        public Load(Classifier.ClassifierClient client)
        {
            var image = new Image { Uint8Pixels = ByteString.CopyFrom(new byte[784]), Shape = { 1, 28, 28 } };
            callers = [.. Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        versions.Enqueue((await client.ClassifyAsync(new ClassifyRequest { Image = image }, cancellationToken: CancellationToken.None)).ModelVersion);
                        answered.Release();
                    }
                    catch (RpcException)
                    {
                        Interlocked.Increment(ref failures);
                    }

                    await Task.Delay(20);
                }
            }))];
        }

        public int Failures => Volatile.Read(ref failures);

        public int Answers => versions.Count;

        /// <summary>Until an answer comes from <paramref name="version"/>, then ten more (so that the answers after the swap are seen too).</summary>
        public async Task WaitForAsync(string version, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!versions.Contains(version))
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero && await answered.WaitAsync(left), $"no answer from {version} within {timeout}");
            }

            await WaitForMoreAnswersAsync(10, timeout);
        }

        /// <summary>Until <paramref name="count"/> more answers have come.</summary>
        public async Task WaitForMoreAnswersAsync(int count, TimeSpan timeout)
        {
            var target = versions.Count + count;
            var deadline = DateTime.UtcNow + timeout;
            while (versions.Count < target)
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(left > TimeSpan.Zero && await answered.WaitAsync(left), $"fewer than {count} answers within {timeout}");
            }
        }

        public async Task<IReadOnlyList<string>> StopAsync()
        {
            await stop.CancelAsync();
            await Task.WhenAll(callers);
            return [.. versions];
        }

        public void Dispose()
        {
            stop.Dispose();
            answered.Dispose();
        }
    }
}
