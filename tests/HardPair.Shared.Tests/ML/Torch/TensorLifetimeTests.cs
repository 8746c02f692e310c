using HardPair.ML.Data;
using HardPair.ML.Models;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.ML.Torch;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TensorLifetimeTests
{
    [Fact]
    public void TrainingLoop_300Steps_KeepsLiveTensorCountFlat()
    {
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train).Subset(32 * 100, seed: 1);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        model.train();
        using var optimizer = torch.optim.SGD(model.parameters(), 0.05, momentum: 0.9);
        var batches = Enumerable.Range(0, 3).SelectMany(epoch => data.BatchIndices(32, seed: epoch)).ToList();
        long? liveAfterWarmUp = null;
        var losses = new List<float>();

        for (var step = 0; step < batches.Count; step++)
        {
            using (var scope = torch.NewDisposeScope())
            {
                var (images, labels) = data.Batch(batches[step]);
                optimizer.zero_grad();
                var loss = torch.nn.functional.cross_entropy(model.forward(images).mul(8), labels);
                loss.backward();
                optimizer.step();
                losses.Add(loss.item<float>());
            }

            if (step == 19)
            {
                liveAfterWarmUp = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            }
        }

        Assert.Equal(300, batches.Count);
        Assert.Equal(liveAfterWarmUp, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(losses.TakeLast(20).Average() < losses.Take(20).Average(), "the loop should also learn something");
    }
}
