using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Services;
using HardPair.ML.Models;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.InferenceService.Tests.Services;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class RobustnessProberTests
{
    [Fact]
    public async Task AProbePastItsDeadline_StopsBetweenAttackSteps_InsteadOfRunningThemAll()
    {
        using var host = new ModelHost();
        var network = new SlowNetwork(TimeSpan.FromMilliseconds(20));
        var description = new ModelDescription("a", TestCheckpoints.Draft(), new ImageShape(1, 28, 28), DatasetCatalog.FashionMnistClasses, 1, [], [], 0, 0.1, 1, DateTimeOffset.UnixEpoch);
        host.Swap(new ServingModel(description, network));
        using var prober = new RobustnessProber(host, Microsoft.Extensions.Options.Options.Create(new InferenceOptions { ProbeSteps = 100 }));

        // 100 steps of at least 20 ms each would take over 2 s; the deadline is 300 ms.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => prober.ProbeAsync(new float[28 * 28], 0, description, deadline.Token));

        Assert.InRange(network.Forwards, 1, 50);
    }

    /// <summary>A linear model that takes at least <c>delay</c> per forward pass, and counts them.</summary>
    private sealed class SlowNetwork(TimeSpan delay) : nn.Module<Tensor, Tensor>(nameof(SlowNetwork))
    {
        private readonly nn.Module<Tensor, Tensor> inner = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        private int forwards;

        public int Forwards => Volatile.Read(ref forwards);

        public override Tensor forward(Tensor input)
        {
            Interlocked.Increment(ref forwards);
            Thread.Sleep(delay);
            return inner.forward(input);
        }
    }
}
