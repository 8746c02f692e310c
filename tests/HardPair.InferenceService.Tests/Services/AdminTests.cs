using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests.Services;

/// <summary>Hot swaps under load, refused candidates, the admin API's token and its forwarding to a missing sidecar.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class AdminTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task HotSwap_TenSwapsUnder32ConcurrentCallers_NoFailureAndEveryAnswerFromALiveVersion()
    {
        var a = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var b = checkpoint.CopyInto(store.Path, "v20260101T000000001Z-bbbbbbbb");
        await using var host = await StartServingAsync();
        var admin = AdminClient(host.Channel);
        var client = new Classifier.ClassifierClient(host.Channel);
        using var stop = new CancellationTokenSource();
        var failures = 0;
        var answered = new System.Collections.Concurrent.ConcurrentBag<string>();

        var callers = Enumerable.Range(0, 32).Select(c => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var reply = await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, (c * 31) + (i % 31)) }, cancellationToken: TestContext.Current);
                    answered.Add(reply.ModelVersion);
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })).ToList();

        var activated = new List<string>();
        for (var swap = 0; swap < 10; swap++)
        {
            await Task.Delay(100, TestContext.Current);
            var target = swap % 2 == 0 ? a : b;
            var reply = await admin.ActivateModelAsync(new ActivateModelRequest { Version = target, Pin = true }, cancellationToken: TestContext.Current);
            Assert.Equal(target, reply.ServingVersion);
            activated.Add(target);
        }

        await Task.Delay(100, TestContext.Current);
        await stop.CancelAsync();
        await Task.WhenAll(callers);

        Assert.Equal(0, failures);
        Assert.True(answered.Count > 100, $"{answered.Count} answers");
        Assert.All(answered, v => Assert.Contains(v, new[] { a, b }));
        Assert.Contains(a, answered);
        Assert.Contains(b, answered);
        var models = await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);
        Assert.Equal(b, models.ServingVersion);
        Assert.Equal(b, models.PinnedVersion);
    }

    [Fact]
    public async Task CorruptedCandidate_IsRefusedWithItsReason_WhileTheServingModelGoesOn()
    {
        var serving = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        await using var host = await StartServingAsync();
        var admin = AdminClient(host.Channel);
        using var staging = new TempDirectory();
        var corrupted = checkpoint.CopyInto(staging.Path, "v20260202T000000000Z-cccccccc");
        var weights = Path.Combine(staging.Path, corrupted, CheckpointFiles.Weights);
        var bytes = File.ReadAllBytes(weights);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(weights, bytes);
        Directory.Move(Path.Combine(staging.Path, corrupted), Path.Combine(store.Path, corrupted));

        var notified = await admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = corrupted }, cancellationToken: TestContext.Current);
        var models = await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);
        var answer = await new Classifier.ClassifierClient(host.Channel).ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 3) }, cancellationToken: TestContext.Current);
        var explicitly = await Assert.ThrowsAsync<RpcException>(() => admin.ActivateModelAsync(new ActivateModelRequest { Version = corrupted }, cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(serving, notified.ServingVersion);
        var refused = Assert.Single(models.Models, m => m.Version == corrupted);
        Assert.Equal(ModelState.Refused, refused.State);
        Assert.Contains("sha256", refused.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(ModelState.Serving, Assert.Single(models.Models, m => m.Version == serving).State);
        Assert.Equal(serving, answer.ModelVersion);
        Assert.Equal(StatusCode.FailedPrecondition, explicitly.StatusCode);
    }

    [Fact]
    public async Task ListModelsAndModelInfo_NameTheSuiteBehindRobustAccuracy_AndAnOldManifestsSingleAttack()
    {
        var current = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        // The first shipped bootstrap checkpoint: schema 1, single attacks only, and the newest version.
        var schemaOne = Repository.SchemaOneCheckpoint;
        var old = Path.GetFileName(schemaOne);
        Directory.CreateDirectory(Path.Combine(store.Path, old));
        foreach (var file in Directory.GetFiles(schemaOne))
        {
            File.Copy(file, Path.Combine(store.Path, old, Path.GetFileName(file)));
        }

        await using var host = await StartServingAsync();
        var admin = AdminClient(host.Channel);
        var client = new Classifier.ClassifierClient(host.Channel);

        var models = (await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current)).Models.ToDictionary(m => m.Version);
        var oldInfo = await client.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);
        await admin.ActivateModelAsync(new ActivateModelRequest { Version = current, Pin = true }, cancellationToken: TestContext.Current);
        var currentInfo = await client.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);

        var suite = checkpoint.Report.Headline!;
        Assert.Equal(TrainedCheckpointFixture.Suite, suite.Attack);
        Assert.Equal((TrainedCheckpointFixture.Suite, suite.Accuracy, 1000, true), (models[current].RobustAttack, models[current].RobustAccuracy, models[current].RobustExamples, models[current].RobustWorstCase));
        Assert.Equal(("cw", 0.512, 1000, false), (models[old].RobustAttack, models[old].RobustAccuracy, models[old].RobustExamples, models[old].RobustWorstCase));

        Assert.Equal(old, oldInfo.Version);
        Assert.Equal(new Protos.V1.RobustSummary { Attack = "cw", Epsilon = 0.1, Accuracy = 0.512, Examples = 1000, WorstCase = false }, oldInfo.Robust);
        Assert.Equal(["pgd20", "cw", "apgd"], oldInfo.RobustAccuracy.Select(a => a.Attack));
        Assert.All(oldInfo.RobustAccuracy, a => Assert.Equal(1000, a.Examples));
        Assert.Equal(current, currentInfo.Version);
        Assert.Equal(new Protos.V1.RobustSummary { Attack = suite.Attack, Epsilon = 0.1, Accuracy = suite.Accuracy, Examples = 1000, WorstCase = true }, currentInfo.Robust);
        Assert.Equal(checkpoint.Report.TestExamples, currentInfo.CleanExamples);
    }

    [Fact]
    public async Task SignedDeployment_ServesOnlyCheckpointsSignedWithItsKey()
    {
        const string key = "shared-by-trainer-and-inference-0123456789";
        var serving = Sign(checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa"), key);
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?> { ["Checkpoints:SigningKey"] = key });
        var admin = AdminClient(host.Channel);
        var client = new Classifier.ClassifierClient(host.Channel);

        // Written by someone who can reach the volume but has not got the key.
        var unsigned = checkpoint.CopyInto(store.Path, "v20260202T000000000Z-bbbbbbbb");
        var forged = Sign(checkpoint.CopyInto(store.Path, "v20260303T000000000Z-cccccccc"), new string('k', 40));
        foreach (var version in new[] { unsigned, forged })
        {
            await admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = version }, cancellationToken: TestContext.Current);
        }

        var models = (await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current)).Models.ToDictionary(m => m.Version);
        Assert.Equal(ModelState.Refused, models[unsigned].State);
        Assert.Contains("manifest.sig is missing", models[unsigned].Detail, StringComparison.Ordinal);
        Assert.Equal(ModelState.Refused, models[forged].State);
        Assert.Contains("not signed with this deployment's key", models[forged].Detail, StringComparison.Ordinal);
        Assert.Equal(serving, (await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 1) }, cancellationToken: TestContext.Current)).ModelVersion);

        var signed = Sign(checkpoint.CopyInto(store.Path, "v20260404T000000000Z-dddddddd"), key);
        var notified = await admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = signed }, cancellationToken: TestContext.Current);
        Assert.Equal(signed, notified.ServingVersion);
    }

    /// <summary>What the trainer writes beside a manifest when it signs: the hex HMAC-SHA256 of the manifest's bytes.</summary>
    private string Sign(string version, string key)
    {
        var folder = Path.Combine(store.Path, version);
        var manifest = File.ReadAllBytes(Path.Combine(folder, CheckpointFiles.Manifest));
        var signature = System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key), manifest);
        File.WriteAllText(Path.Combine(folder, CheckpointFiles.Signature), Convert.ToHexStringLower(signature));
        return version;
    }

    /// <summary>
    /// The pin is kept in the store: a second replica on the same store holds it, a restarted
    /// service holds it, and unpinning through one replica reaches the other.
    /// </summary>
    [Fact]
    public async Task Pin_HoldsAcrossARestartAndForEveryReplica_UntilUnpinned()
    {
        var older = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var newer = checkpoint.CopyInto(store.Path, "v20260202T000000000Z-bbbbbbbb");
        await using (var first = await StartServingAsync())
        {
            Assert.Equal(newer, await ServingVersionAsync(first));
            var reply = await AdminClient(first.Channel).ActivateModelAsync(new ActivateModelRequest { Version = older, Pin = true }, cancellationToken: TestContext.Current);
            Assert.Equal(older, reply.ServingVersion);
        }

        Assert.True(File.Exists(Path.Combine(store.Path, CheckpointStore.PinFile)));
        await using var restarted = await StartServingAsync();
        await using var replica = await StartServingAsync();
        Assert.Equal(older, await ServingVersionAsync(restarted));
        Assert.Equal(older, await ServingVersionAsync(replica));
        Assert.Equal(older, (await AdminClient(replica.Channel).ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current)).PinnedVersion);

        var unpinned = await AdminClient(restarted.Channel).ActivateModelAsync(new ActivateModelRequest { Version = "" }, cancellationToken: TestContext.Current);

        Assert.Equal(newer, unpinned.ServingVersion);
        Assert.False(File.Exists(Path.Combine(store.Path, CheckpointStore.PinFile)));
        // The other replica sees the pin go (the store's file event, else its poll) and follows.
        await replica.WaitUntilServingAsync(newer);

        Assert.Equal(newer, await ServingVersionAsync(replica));
        Assert.Equal("", (await AdminClient(replica.Channel).ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current)).PinnedVersion);
    }

    [Fact]
    public async Task Start_PinnedVersionGoneFromTheStore_ServesTheNewestMeanwhile_AndKeepsThePin()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var newer = checkpoint.CopyInto(store.Path, "v20260202T000000000Z-bbbbbbbb");
        new CheckpointStore(store.Path, TimeProvider.System).WritePin("v20250101T000000000Z-gone0000");

        await using var host = await StartServingAsync();

        Assert.Equal(newer, await ServingVersionAsync(host));
        Assert.Equal("v20250101T000000000Z-gone0000", (await AdminClient(host.Channel).ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current)).PinnedVersion);
    }

    [Fact]
    public async Task UnreadablePin_HoldsWhatServes_InsteadOfFollowingTheNewest()
    {
        var older = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        await using var host = await StartServingAsync();
        File.WriteAllText(Path.Combine(store.Path, CheckpointStore.PinFile), "{ half-written");
        var newer = checkpoint.CopyInto(store.Path, "v20260303T000000000Z-dddddddd");

        // A refresh that has read the unreadable pin and seen the new folder (a notification's,
        // done when it answers) leaves the older version serving.
        var admin = AdminClient(host.Channel);
        await admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = newer }, cancellationToken: TestContext.Current);
        Assert.Equal(older, await ServingVersionAsync(host));

        File.Delete(Path.Combine(store.Path, CheckpointStore.PinFile));
        await host.WaitUntilServingAsync(newer);
    }

    [Fact]
    public async Task NewCheckpointInTheStore_IsFoundWithoutANotification()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        await using var host = await StartServingAsync();
        var newer = checkpoint.CopyInto(store.Path, "v20260303T000000000Z-dddddddd");
        var client = new Classifier.ClassifierClient(host.Channel);

        await host.WaitUntilServingAsync(newer);

        Assert.Equal(newer, (await client.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current)).Version);
    }

    [Fact]
    public async Task EmptyStore_IsSeededFromTheConfiguredFolder_AndServesAtOnce()
    {
        using var seed = new TempDirectory();
        checkpoint.CopyInto(seed.Path);

        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?> { ["Checkpoints:SeedFrom"] = seed.Path });
        var info = await new Classifier.ClassifierClient(host.Channel).GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);

        Assert.Equal(checkpoint.Version, info.Version);
        Assert.True(File.Exists(Path.Combine(store.Path, checkpoint.Version, CheckpointFiles.Weights)));
    }

    [Theory]
    [InlineData(null, "a bearer token is required")]
    [InlineData("not-the-admin-token-at-all", "the bearer token is not valid")]
    public async Task Admin_WithoutTheToken_IsUnauthenticated_ButClassifyIsOpen(string? token, string message)
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await StartServingAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => AdminClient(host.Channel, token).ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current).ResponseAsync);
        var answer = await new Classifier.ClassifierClient(host.Channel).ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, cancellationToken: TestContext.Current);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(checkpoint.Version, answer.ModelVersion);
    }

    [Fact]
    public async Task Retraining_SidecarDown_IsUnavailableQuickly_AndServingIsUnaffected()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await StartServingAsync();
        var admin = AdminClient(host.Channel);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RpcException>(() => admin.TriggerRetrainingAsync(new StartRunRequest { Reason = "test" }, cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("trainer sidecar is unreachable", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
        var answer = await new Classifier.ClassifierClient(host.Channel).ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, cancellationToken: TestContext.Current);
        Assert.Equal(checkpoint.Version, answer.ModelVersion);
    }

    [Fact]
    public async Task Start_WithoutAnAdminToken_Fails()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            InferenceSettings.StartAsync(store.Path, new Dictionary<string, string?> { ["Admin:Token"] = "" }));

        Assert.Contains("bearer token of at least 16 characters", error.Message, StringComparison.Ordinal);
    }

    private static Admin.AdminClient AdminClient(GrpcChannel channel, string? token = InferenceSettings.AdminToken) =>
        new(channel.Intercept(headers =>
        {
            if (token is not null)
            {
                headers.Add("authorization", $"Bearer {token}");
            }

            return headers;
        }));

    [Fact]
    public async Task NotifyCheckpoint_ScansTheStoreOnce_AndListModelsIsConsistentWhileActivationsRefuseAndRetry()
    {
        var good = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var broken = checkpoint.CopyInto(store.Path, "v20260101T000000001Z-bbbbbbbb");
        File.WriteAllBytes(Path.Combine(store.Path, broken, CheckpointFiles.Weights), [1, 2, 3]);
        long scans = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == HardPair.InferenceService.Models.InferenceMetrics.MeterName && instrument.Name == "hardpair.inference.store_scans")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref scans, value));
        listener.Start();
        // No polling during the test: only the calls below scan.
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?> { ["Inference:PollInterval"] = "01:00:00" });
        var admin = AdminClient(host.Channel);

        var before = Interlocked.Read(ref scans);
        var notified = await admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = good }, cancellationToken: TestContext.Current);
        var oneNotification = Interlocked.Read(ref scans) - before;

        // Activations of the broken version forget and record its refusal, again and again,
        // while ListModels reads the refusals from other threads.
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var listers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var models = await admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);
                    Assert.Equal(ModelState.Refused, Assert.Single(models.Models, m => m.Version == broken).State);
                }
                catch (RpcException ex)
                {
                    failures.Enqueue(ex.Status.ToString());
                }
            }
        })).ToList();
        for (var i = 0; i < 30; i++)
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => admin.ActivateModelAsync(new ActivateModelRequest { Version = broken }, cancellationToken: TestContext.Current).ResponseAsync);
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        }

        await stop.CancelAsync();
        await Task.WhenAll(listers);

        Assert.Equal(good, notified.ServingVersion);
        Assert.Equal(1, oneNotification);
        Assert.Empty(failures);
    }

    private Task<LoopbackHost> StartServingAsync() => InferenceSettings.StartServingAsync(store.Path);

    private static async Task<string> ServingVersionAsync(LoopbackHost host) =>
        (await new Classifier.ClassifierClient(host.Channel).GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current)).Version;
}
