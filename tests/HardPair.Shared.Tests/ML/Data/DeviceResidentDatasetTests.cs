using HardPair.ML.Data;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.ML.Data;

/// <summary>The device-resident batches (used on accelerators) equal the host-assembled ones, bit for bit.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class DeviceResidentDatasetTests
{
    [Fact]
    public void Batch_EqualsTheHostBatch_ForAShuffledSubset()
    {
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Subset(500, seed: 3);
        using var resident = new DeviceResidentDataset(data, torch.CPU);
        int[] indices = [499, 0, 17, 17, 250, 3];

        using var scope = torch.NewDisposeScope();
        var (hostImages, hostLabels) = data.Batch(indices);
        var (images, labels) = resident.Batch(indices);

        Assert.Equal(hostImages.shape, images.shape);
        Assert.Equal(torch.ScalarType.Float32, images.dtype);
        Assert.Equal(hostImages.data<float>().ToArray(), images.data<float>().ToArray());
        Assert.Equal(hostLabels.data<long>().ToArray(), labels.data<long>().ToArray());
    }
}
