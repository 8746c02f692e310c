using System.Diagnostics.Metrics;
using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.Shared.Data;
using HardPair.Shared.Models;
using HardPair.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace HardPair.InferenceService.Tests;

[Collection(TorchCollection.Name)]
public sealed class InferenceBatcherTests
{
    [Fact]
    public async Task ModelChangesShapeWhileAnImageWaits_ItIsToldToRetry_AndTheBatcherServesTheNextModel()
    {
        var cancellation = TestContext.Current;
        using var host = new ModelHost();
        host.Swap(Model("a", new ImageShape(1, 28, 28)));
        await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var options = Microsoft.Extensions.Options.Options.Create(new InferenceOptions { MaxBatchSize = 8, MaxQueueDelay = TimeSpan.FromSeconds(2) });
        using var batcher = new InferenceBatcher(host, options, new InferenceMetrics(services.GetRequiredService<IMeterFactory>()), NullLogger<InferenceBatcher>.Instance);
        await batcher.StartAsync(cancellation);

        // Validated against a 28×28 model, then the model becomes a 32×32 one while the batch
        // gathers (its window is 2 s): the image no longer fits, and the caller is told to retry.
        var waiting = batcher.InferAsync(new float[28 * 28], host.Current!, cancellation);
        host.Swap(Model("b", new ImageShape(1, 32, 32)));
        var refused = await Assert.ThrowsAsync<ModelChangedException>(() => waiting);

        host.Swap(Model("c", new ImageShape(1, 28, 28)));
        var answered = await batcher.InferAsync(new float[28 * 28], host.Current!, cancellation);
        await batcher.StopAsync(cancellation);

        Assert.Contains("changed to b (input 1x32x32)", refused.Message, StringComparison.Ordinal);
        Assert.Equal("c", answered.Model.Version);
        Assert.Equal(1.0, answered.Probabilities.Sum(), 4);
    }

    private static ServingModel Model(string version, ImageShape shape)
    {
        var network = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        network.eval();
        var description = new ModelDescription(version, TestCheckpoints.Draft(), shape, DatasetCatalog.FashionMnistClasses, 1, [], [], 0, 0.1, 1, DateTimeOffset.UnixEpoch);
        return new ServingModel(description, network);
    }
}
