using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using Microsoft.Extensions.Time.Testing;

namespace HardPair.Shared.Tests.Storage.Checkpoints;

/// <summary>The operator's pin as the store keeps it, and what <see cref="CheckpointStore.Serving"/> makes of it.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class StorePinTests : IDisposable
{
    private readonly TempDirectory temp = new();
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 26, 9, 0, 0, TimeSpan.Zero));
    private readonly CheckpointStore store;

    public StorePinTests()
    {
        store = new CheckpointStore(temp.Combine("store"), time);
    }

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Serving_FollowsTheNewest_UntilAVersionIsPinned_ThenThePinUntilCleared()
    {
        var older = Publish();
        time.Advance(TimeSpan.FromMinutes(1));
        var newer = Publish();

        Assert.Null(store.ReadPin());
        Assert.Equal(newer, store.Serving()?.Version);

        var pin = store.WritePin(older);
        Assert.Equal(new StorePin(older, time.GetUtcNow()), pin);
        Assert.Equal(pin, new CheckpointStore(store.Root, TimeProvider.System).ReadPin());
        Assert.Equal(older, store.Serving()?.Version);
        Assert.Equal(newer, store.Latest()?.Version);
        Assert.Equal([older, newer], store.List().Select(e => e.Version));
        Assert.Empty(Directory.EnumerateFiles(store.Root, ".*"));

        store.ClearPin();
        Assert.Null(store.ReadPin());
        Assert.Equal(newer, store.Serving()?.Version);
    }

    [Fact]
    public void Serving_PinnedVersionBrokenOrGoneOrPinUnreadable_IsTheNewestInstead()
    {
        var older = Publish();
        time.Advance(TimeSpan.FromMinutes(1));
        var newer = Publish();
        store.WritePin(older);
        File.AppendAllText(Path.Combine(store.Root, older, CheckpointFiles.Weights), "x");

        Assert.Equal(newer, store.Serving()?.Version);

        store.WritePin("v20200101T000000000Z-gone0000");
        Assert.Equal(newer, store.Serving()?.Version);

        File.WriteAllText(Path.Combine(store.Root, CheckpointStore.PinFile), "not json");
        Assert.Equal(newer, store.Serving()?.Version);
    }

    [Theory]
    [InlineData("", "pin.json is not a pin (empty, too large or not a regular file)")]
    [InlineData("{\"version\": \"../escape\", \"pinnedAt\": \"2026-11-26T09:00:00Z\"}", "pin.json does not name a valid version id")]
    [InlineData("not json", "pin.json is not a valid pin")]
    public void ReadPin_PinFileThatIsNoPin_IsReportedNotIgnored(string content, string fault)
    {
        Directory.CreateDirectory(store.Root);
        File.WriteAllText(Path.Combine(store.Root, CheckpointStore.PinFile), content);

        Assert.StartsWith(fault, Assert.Throws<CheckpointException>(() => store.ReadPin()).Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void WritePin_InvalidVersionId_IsRefused()
    {
        Assert.Equal("not a valid version id", Assert.Throws<CheckpointException>(() => store.WritePin("../x")).Fault);
        Assert.False(File.Exists(Path.Combine(store.Root, CheckpointStore.PinFile)));
    }

    private string Publish()
    {
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        return store.Publish(model, TestCheckpoints.Draft()).Version;
    }
}
