using System.Text.Json;
using System.Text.Json.Nodes;
using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using Microsoft.Extensions.Time.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.Storage.Checkpoints;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Process)]
public sealed class CheckpointVerificationTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero));
    private readonly CheckpointStore store;

    public CheckpointVerificationTests()
    {
        store = new CheckpointStore(temp.Combine("store"), time);
    }

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Publish_ThenLoad_GivesTheSameNetworkAndManifest()
    {
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        model.eval();
        var draft = TestCheckpoints.Draft() with { ParentVersion = "v0", CalibrationTemperature = 1.5 };

        var published = store.Publish(model, draft);
        using var loaded = store.Load(published.Version);

        Assert.Equal("v20261125T120000000Z-" + published.WeightsSha256[..8], published.Version);
        Assert.Equal(time.GetUtcNow(), loaded.Manifest.CreatedAt);
        Assert.Equal("v0", loaded.Manifest.ParentVersion);
        Assert.Equal(1.5, loaded.Manifest.CalibrationTemperature);
        Assert.Equal(published.WeightsSha256, loaded.Manifest.WeightsSha256);
        var input = torch.rand(4, 1, 28, 28);
        Assert.True(Tensors.Identical(model.forward(input), loaded.Model.forward(input)));
    }

    [Fact]
    public void Load_TruncatedWeights_IsRefused()
    {
        var version = PublishSmallCnn();
        var weights = Path.Combine(store.Root, version, CheckpointFiles.Weights);
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length - 100)]);

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.Contains("truncated or replaced", error.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TamperedWeights_IsRefusedByDigest()
    {
        var version = PublishSmallCnn();
        var weights = Path.Combine(store.Root, version, CheckpointFiles.Weights);
        var bytes = File.ReadAllBytes(weights);
        bytes[^10] ^= 0x40;
        File.WriteAllBytes(weights, bytes);

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.Contains("tampered or corrupted", error.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownArchitecture_IsRefused()
    {
        var version = PublishSmallCnn();
        EditManifest(version, m => m["architecture"] = "resnet-50");

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.StartsWith("unknown architecture 'resnet-50'", error.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WeightsOfAnotherArchitecture_AreRefusedAndNothingIsHandedOut()
    {
        // A consistent manifest (right digest, right shape) over weights of another network.
        using var scope = torch.NewDisposeScope();
        using var small = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        using var buffer = new MemoryStream();
        small.save(buffer);
        var published = store.Publish(buffer.ToArray(), TestCheckpoints.Draft(PreActResNet18.ArchitectureName, ClassifierHeadKind.Linear));

        var error = Assert.Throws<CheckpointException>(() => store.Load(published.Version));
        Assert.StartsWith("weights do not load into architecture 'preact-resnet18'", error.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WrongInputShape_IsRefused()
    {
        var version = PublishSmallCnn();
        EditManifest(version, m => m["inputShape"] = new JsonArray(3, 28, 28));

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.Equal("input shape [3, 28, 28] does not match architecture 'small-cnn' ([1, 28, 28])", error.Fault);
    }

    [Fact]
    public void Load_WrongClassCount_IsRefused()
    {
        var version = PublishSmallCnn();
        EditManifest(version, m =>
        {
            m["classNames"] = new JsonArray("a", "b", "c");
            m["pairHardness"] = new JsonArray(new JsonArray(0, 0, 0), new JsonArray(0, 0, 0), new JsonArray(0, 0, 0));
        });

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.StartsWith("weights do not load", error.Fault, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("schemaVersion", "3", "manifest schema version 3 is not supported (expected 1 to 2)")]
    [InlineData("version", "\"v-other\"", "manifest names version 'v-other' but the folder is")]
    [InlineData("head", "\"softmax\"", "unknown classifier head 'softmax'")]
    [InlineData("calibrationTemperature", "0", "calibration temperature 0 must be a positive finite number")]
    [InlineData("pairHardness", "[[0.5]]", "pair-hardness matrix must be 10x10")]
    [InlineData("weightsSha256", "\"abc\"", "manifest has no valid sha256")]
    public void Load_InconsistentManifest_IsRefused(string field, string json, string fault)
    {
        var version = PublishSmallCnn();
        EditManifest(version, m => m[field] = JsonNode.Parse(json));

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.StartsWith(fault, error.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ManifestWithUnknownField_IsRefused()
    {
        var version = PublishSmallCnn();
        EditManifest(version, m => m["signedBy"] = "someone");

        var error = Assert.Throws<CheckpointException>(() => store.Load(version));
        Assert.Contains("is not a valid manifest", error.Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFiles_AreRefused()
    {
        var first = PublishSmallCnn();
        File.Delete(Path.Combine(store.Root, first, CheckpointFiles.Weights));
        time.Advance(TimeSpan.FromSeconds(1));
        var second = PublishSmallCnn();
        File.Delete(Path.Combine(store.Root, second, CheckpointFiles.Manifest));

        Assert.Equal("model.bin is missing", Assert.Throws<CheckpointException>(() => store.Load(first)).Fault);
        Assert.Equal("manifest.json is missing", Assert.Throws<CheckpointException>(() => store.Load(second)).Fault);
        Assert.Equal("not a valid version id", Assert.Throws<CheckpointException>(() => store.Load("../x")).Fault);
    }

    [Fact]
    public void Latest_BrokenNewestVersion_FallsBackToTheNewestGoodOne()
    {
        var good = PublishSmallCnn();
        time.Advance(TimeSpan.FromMinutes(1));
        var broken = PublishSmallCnn();
        var weights = Path.Combine(store.Root, broken, CheckpointFiles.Weights);
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(weights, bytes);

        Assert.Equal(good, store.Latest()?.Version);
        var listed = store.List(verifyWeights: true);
        Assert.Equal([good, broken], listed.Select(e => e.Version));
        Assert.True(listed[0].IsValid);
        Assert.False(listed[1].IsValid);
    }

    /// <summary>
    /// A named pipe where the newest manifest should be: opening it would wait for a writer, so a
    /// scan that opened it would hang the service's start. It is refused unopened.
    /// </summary>
    [Fact]
    public async Task Latest_NamedPipeForTheNewestManifest_IsRefusedWithoutBlockingTheScan()
    {
        var good = PublishSmallCnn();
        time.Advance(TimeSpan.FromMinutes(1));
        var piped = PublishSmallCnn();
        var manifest = Path.Combine(store.Root, piped, CheckpointFiles.Manifest);
        File.Delete(manifest);
        MakeFifo(manifest);

        // A scan that opened the pipe would never return: TimeoutException.
        var (latest, listed) = await Task.Run(() => (store.Latest()?.Version, store.List())).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(good, latest);
        Assert.StartsWith("manifest.json is empty, not a regular file or more than a manifest", listed.Single(e => e.Version == piped).Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ManifestLargerThanAnyManifest_IsRefusedUnread()
    {
        var version = PublishSmallCnn();
        File.WriteAllBytes(Path.Combine(store.Root, version, CheckpointFiles.Manifest), new byte[CheckpointReader.MaxManifestBytes + 1]);

        Assert.Contains("more than a manifest", Assert.Throws<CheckpointException>(() => store.Load(version)).Fault, StringComparison.Ordinal);
    }

    internal static void MakeFifo(string path)
    {
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Fact]
    public void RefusedLoads_LeaveNoLiveTensorsBehind()
    {
        using var scope = torch.NewDisposeScope();
        using var small = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        using var buffer = new MemoryStream();
        small.save(buffer);
        var published = store.Publish(buffer.ToArray(), TestCheckpoints.Draft(PreActResNet18.ArchitectureName, ClassifierHeadKind.Linear));
        Assert.Throws<CheckpointException>(() => store.Load(published.Version));

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++)
        {
            Assert.Throws<CheckpointException>(() => store.Load(published.Version));
        }

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private string PublishSmallCnn()
    {
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        return store.Publish(model, TestCheckpoints.Draft()).Version;
    }

    // Rewrites the manifest and its digest-independent fields, as a careless or hostile editor would.
    private void EditManifest(string version, Action<JsonObject> edit)
    {
        var path = Path.Combine(store.Root, version, CheckpointFiles.Manifest);
        var manifest = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(manifest);
        File.WriteAllText(path, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
