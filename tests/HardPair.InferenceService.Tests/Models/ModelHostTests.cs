using HardPair.InferenceService.Models;
using HardPair.ML.Models;
using HardPair.Storage.Data;
using HardPair.Testing;

namespace HardPair.InferenceService.Tests.Models;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ModelHostTests
{
    [Fact]
    public void Swap_OldModelServesItsLeasesToTheEnd_ThenItsWeightsAreFreed()
    {
        using var host = new ModelHost();
        var a = Model("a");
        var b = Model("b");
        host.Swap(a);
        var inFlight = host.TryAcquire()!;

        host.Swap(b);
        using var next = host.TryAcquire()!;

        Assert.Equal("a", inFlight.Model.Version);
        Assert.Equal("b", next.Model.Version);
        Assert.False(a.IsDisposed);
        inFlight.Dispose();
        inFlight.Dispose(); // a second release changes nothing
        Assert.True(a.IsDisposed);
        Assert.Equal(0, a.Leases);
        Assert.False(b.IsDisposed);
        Assert.Equal("b", host.Current!.Version);
    }

    [Fact]
    public void TryAcquire_NothingLoaded_IsNull()
    {
        using var host = new ModelHost();

        Assert.Null(host.TryAcquire());
        Assert.Null(host.Current);
    }

    private static ServingModel Model(string version)
    {
        var network = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        var description = new ModelDescription(version, TestCheckpoints.Draft(), new ImageShape(1, 28, 28), DatasetCatalog.FashionMnistClasses, 1, [], [], 0, 0.1, 1, DateTimeOffset.UnixEpoch);
        return new ServingModel(description, network);
    }
}
