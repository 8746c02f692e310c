using System.Diagnostics.Metrics;
using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.ML.Models;
using HardPair.Storage.Data;
using HardPair.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.InferenceService.Tests.Batching;

/// <summary>
/// The batcher on its own, with a network that holds each forward pass until the test lets it go
/// and records which calls' images it saw: every ordering below is decided by the queue, not by
/// timing.
/// </summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class InferenceBatcherTests
{
    private static readonly ImageShape Shape = new(1, 28, 28);

    [Fact]
    public async Task ModelChangesShapeWhileAnImageWaits_ItIsToldToRetry_AndTheBatcherServesTheNextModel()
    {
        var cancellation = TestContext.Current;
        using var host = new ModelHost();
        host.Swap(Model("a", Shape));
        await using var batcher = await StartAsync(host, new InferenceOptions { MaxBatchSize = 8, MaxQueueDelay = TimeSpan.FromSeconds(2) });

        // Validated against a 28×28 model, then the model becomes a 32×32 one while the batch
        // gathers (its window is 2 s): the image no longer fits, and the caller is told to retry.
        var waiting = batcher.Batcher.InferAsync(new float[28 * 28], host.Current!, cancellation);
        host.Swap(Model("b", new ImageShape(1, 32, 32)));
        var refused = await Assert.ThrowsAsync<ModelChangedException>(() => waiting);

        host.Swap(Model("c", Shape));
        var answered = await batcher.Batcher.InferAsync(new float[28 * 28], host.Current!, cancellation);

        Assert.Contains("changed to b (input 1x32x32)", refused.Message, StringComparison.Ordinal);
        Assert.Equal("c", answered.Model.Version);
        Assert.Equal(1.0, answered.Probabilities.Sum(), 4);
    }

    [Fact]
    public async Task ACallLargerThanTheForwardBatch_IsAnsweredByTheVersionItStartedOn_ThoughTheModelIsSwappedBetweenItsPasses()
    {
        var cancellation = TestContext.Current;
        using var host = new ModelHost();
        var a = new GatedNetwork();
        var served = Model("a", Shape, a);
        host.Swap(served);
        await using var batcher = await StartAsync(host, new InferenceOptions { MaxBatchSize = 8 });

        // 20 images: three forward passes. The swap lands while the first is computing, and a
        // one-image call for the new version queues behind the rest of the large one.
        var large = batcher.Batcher.InferAsync(Images(20, 0.25f), host.Current!, cancellation);
        Assert.Equal([0.25f], await a.EnteredAsync(cancellation));
        host.Swap(Model("b", Shape));
        var small = batcher.Batcher.InferAsync(Images(1, 0.75f)[0], host.Current!, cancellation);
        a.Open();

        var answers = await large;
        var next = await small;

        Assert.Equal(20, answers.Count);
        Assert.All(answers, r => Assert.Equal("a", r.Model.Version));
        Assert.Equal([8, 8, 4], a.BatchSizes);
        Assert.Equal("b", next.Model.Version);
        // The retired version was freed once the call that held it had its last answer.
        Assert.True(served.IsDisposed);
    }

    [Theory]
    [InlineData(QueuePolicy.RoundRobin, 0)]
    [InlineData(QueuePolicy.Fifo, 16)]
    public async Task AOneImageCallBehindTwoLargeCalls_WaitsForOneForwardPassUnderRoundRobin_AndForAllOfThemUnderFifo(QueuePolicy policy, int smallPass)
    {
        var cancellation = TestContext.Current;
        using var host = new ModelHost();
        var network = new GatedNetwork();
        host.Swap(Model("a", Shape, network));
        await using var batcher = await StartAsync(host, new InferenceOptions { MaxBatchSize = 8, QueuePolicy = policy });

        // While a first call computes, two 64-image calls and then a one-image call queue.
        var first = batcher.Batcher.InferAsync(Images(1, 0.1f), host.Current!, cancellation);
        await network.EnteredAsync(cancellation);
        var large = new[] { batcher.Batcher.InferAsync(Images(64, 0.25f), host.Current!, cancellation), batcher.Batcher.InferAsync(Images(64, 0.5f), host.Current!, cancellation) };
        var small = batcher.Batcher.InferAsync(Images(1, 0.75f), host.Current!, cancellation);
        network.Open();
        await Task.WhenAll([first, small, .. large]);

        // The passes after the first: the small call's image is in the first of them under round
        // robin, and after the 16 passes of the large calls' 128 images under FIFO.
        var passes = network.Markers.Skip(1).ToList();
        Assert.Equal(smallPass, passes.FindIndex(m => m.Contains(0.75f)));
        Assert.All(passes, m => Assert.True(m.Count <= 8));
        Assert.Equal(1 + 64 + 64 + 1, network.BatchSizes.Sum());
        if (policy == QueuePolicy.RoundRobin)
        {
            // Both large calls advanced together from the first pass on.
            Assert.Contains(0.25f, passes[0]);
            Assert.Contains(0.5f, passes[0]);
        }
    }

    [Fact]
    public async Task OnTheServicesClock_ABatchClosesWhenArrivalsPauseForTheGap_OrWhenTheWindowEnds()
    {
        var cancellation = TestContext.Current;
        var time = new FakeTimeProvider();
        using var host = new ModelHost();
        var network = new GatedNetwork();
        network.Open();
        host.Swap(Model("a", Shape, network));
        await using var batcher = await StartAsync(host, new InferenceOptions { MaxBatchSize = 64, MaxQueueDelay = TimeSpan.FromSeconds(1), MaxArrivalGap = TimeSpan.FromMilliseconds(50) }, time);

        // Three calls, then nothing: one forward pass for the three once 50 ms of the fake clock
        // have passed without an arrival, long before the window's second.
        var started = time.GetUtcNow();
        var calls = Enumerable.Range(0, 3).Select(i => batcher.Batcher.InferAsync(Images(1, 0.1f * (i + 1))[0], host.Current!, cancellation)).ToList();
        var closedAfter = await AdvanceUntilAsync(time, () => network.BatchSizes.Count == 1) - started;
        await Task.WhenAll(calls);
        Assert.InRange(closedAfter, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(500));
        Assert.Equal([3], network.BatchSizes);

        // Arrivals every 40 ms never leave a 50-ms gap: the window closes the batch, a second
        // after its first image (before 8 images wait, which would close it too).
        started = time.GetUtcNow();
        calls.Clear();
        for (var i = 0; i < 40 && network.BatchSizes.Count == 1; i++)
        {
            calls.Add(batcher.Batcher.InferAsync(Images(1, 0.5f)[0], host.Current!, cancellation));
            var next = time.GetUtcNow() + TimeSpan.FromMilliseconds(40);
            await AdvanceUntilAsync(time, () => time.GetUtcNow() >= next || network.BatchSizes.Count == 2);
        }

        closedAfter = time.GetUtcNow() - started;

        // A call made while the window's batch was being closed waits for the next batch, which
        // only the fake clock's gap closes: move the clock on until every call is answered.
        await AdvanceUntilAsync(time, () => calls.TrueForAll(c => c.IsCompleted));
        await Task.WhenAll(calls);
        Assert.InRange(closedAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.1));
        Assert.InRange(network.BatchSizes[1], 24, 26);
        Assert.InRange(network.BatchSizes.Count, 2, 3);
        Assert.Equal(calls.Count, network.BatchSizes.Skip(1).Sum());
    }

    /// <summary>
    /// Moves the fake clock on 2 ms at a time until <paramref name="done"/> holds, giving the
    /// batcher's thread-pool continuations a real millisecond between moves (the clock is the
    /// fake one; the pause only lets the code under test run); returns the clock's time then.
    /// </summary>
    private static async Task<DateTimeOffset> AdvanceUntilAsync(FakeTimeProvider time, Func<bool> done)
    {
        for (var i = 0; i < 2_500 && !done(); i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(2));
            await Task.Delay(1, TestContext.Current);
        }

        Assert.True(done(), "the batcher did not act within 5 s of the fake clock");
        return time.GetUtcNow();
    }

    [Fact]
    public async Task TheQueueIsBoundedInImages_AndACancelledCallLeavesIt_WithoutBeingComputed()
    {
        var cancellation = TestContext.Current;
        using var host = new ModelHost();
        var network = new GatedNetwork();
        host.Swap(Model("a", Shape, network));
        await using var batcher = await StartAsync(host, new InferenceOptions { MaxBatchSize = 8, QueueCapacity = 16, MaxRequestsPerBatchCall = 16 });

        var first = batcher.Batcher.InferAsync(Images(1, 0.1f), host.Current!, cancellation);
        await network.EnteredAsync(cancellation);
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var abandoned = batcher.Batcher.InferAsync(Images(12, 0.25f), host.Current!, giveUp.Token);

        // 12 of 16 places are taken: a call of 5 does not fit, one of 4 does; once the 12 are
        // cancelled, their places are free again.
        // (refused at once, before anything is awaited)
        Assert.Throws<QueueFullException>(() => { _ = batcher.Batcher.InferAsync(Images(5, 0.5f), host.Current!, cancellation); });
        var fits = batcher.Batcher.InferAsync(Images(4, 0.5f), host.Current!, cancellation);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        var afterwards = batcher.Batcher.InferAsync(Images(12, 0.75f), host.Current!, cancellation);
        network.Open();
        await Task.WhenAll(first, fits, afterwards);

        Assert.DoesNotContain(network.Markers, m => m.Contains(0.25f));
        Assert.Equal(1 + 4 + 12, network.BatchSizes.Sum());
    }

    [Fact]
    public async Task CallsCancelledAtRandom_WhileVersionsSwapUnderThem_NeverBreakTheBatcher_AndEveryRetiredVersionIsFreed()
    {
        var cancellation = TestContext.Current;
        using var host = new ModelHost();
        var models = new List<ServingModel> { Model("v0", Shape) };
        host.Swap(models[0]);
        await using var batcher = await StartAsync(host, new InferenceOptions { MaxBatchSize = 8, Executors = 2, QueueCapacity = 10_000 });
        var random = new Random(7);
        var outcomes = new List<Task>();

        for (var i = 0; i < 300; i++)
        {
            var giveUp = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var call = batcher.Batcher.InferAsync(Images(1 + random.Next(20), 0.5f), host.Current!, giveUp.Token);
            outcomes.Add(call.ContinueWith(t => { giveUp.Dispose(); return t; }, TaskScheduler.Default).Unwrap());
            if (random.Next(3) == 0)
            {
                giveUp.CancelAfter(random.Next(3));
            }

            if (i % 10 == 0)
            {
                var next = Model($"v{models.Count}", Shape);
                models.Add(next);
                host.Swap(next);
            }
        }

        // Every call ends — answered by one version or cancelled — and the batcher still serves.
        foreach (var outcome in outcomes)
        {
            try
            {
                var answers = await (Task<IReadOnlyList<InferenceResult>>)outcome;
                Assert.Single(answers.Select(a => a.Model.Version).Distinct());
            }
            catch (OperationCanceledException)
            {
            }
        }

        var last = await batcher.Batcher.InferAsync(Images(1, 0.5f)[0], host.Current!, cancellation);
        Assert.Equal(models[^1].Version, last.Model.Version);
        Assert.All(models[..^1], m => Assert.True(m.IsDisposed, $"{m.Version} was retired but is still held ({m.Leases} leases)"));
    }

    private static async Task<RunningBatcher> StartAsync(ModelHost host, InferenceOptions settings, TimeProvider? time = null)
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var batcher = new InferenceBatcher(host, Microsoft.Extensions.Options.Options.Create(settings), new InferenceMetrics(services.GetRequiredService<IMeterFactory>()), time ?? TimeProvider.System, NullLogger<InferenceBatcher>.Instance);
        await batcher.StartAsync(TestContext.Current);
        return new RunningBatcher(batcher, services);
    }

    /// <summary><paramref name="count"/> images whose pixels all hold <paramref name="marker"/>, so a forward pass can tell whose they are.</summary>
    private static float[][] Images(int count, float marker) =>
        Enumerable.Range(0, count).Select(_ => Enumerable.Repeat(marker, Shape.Elements).ToArray()).ToArray();

    private static ServingModel Model(string version, ImageShape shape, nn.Module<Tensor, Tensor>? network = null)
    {
        network ??= ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        network.eval();
        var description = new ModelDescription(version, TestCheckpoints.Draft(), shape, DatasetCatalog.FashionMnistClasses, 1, [], [], 0, 0.1, 1, DateTimeOffset.UnixEpoch);
        return new ServingModel(description, network);
    }

    private sealed class RunningBatcher(InferenceBatcher batcher, ServiceProvider services) : IAsyncDisposable
    {
        public InferenceBatcher Batcher { get; } = batcher;

        public async ValueTask DisposeAsync()
        {
            await Batcher.StopAsync(CancellationToken.None);
            Batcher.Dispose();
            await services.DisposeAsync();
        }
    }

    /// <summary>
    /// A linear model whose first forward pass waits until <see cref="Open"/> (the later ones run
    /// at once), recording each pass's size and the distinct first pixels of its images.
    /// </summary>
    private sealed class GatedNetwork : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        private readonly ManualResetEventSlim open = new();
        private readonly TaskCompletionSource<List<float>> entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<List<float>> markers = [];

        public GatedNetwork()
            : base(nameof(GatedNetwork))
        {
            RegisterComponents();
        }

        public IReadOnlyList<IReadOnlyCollection<float>> Markers
        {
            get
            {
                lock (markers)
                {
                    return [.. markers];
                }
            }
        }

        public IReadOnlyList<int> BatchSizes
        {
            get
            {
                lock (markers)
                {
                    return sizes.ToList();
                }
            }
        }

        private readonly List<int> sizes = [];

        /// <summary>The first pass's markers, once it has started (and waits).</summary>
        public Task<List<float>> EnteredAsync(CancellationToken cancellationToken) => entered.Task.WaitAsync(cancellationToken);

        public void Open() => open.Set();

        public override Tensor forward(Tensor input)
        {
            var firstPixels = input.flatten(1).select(1, 0).data<float>().Distinct().ToList();
            lock (markers)
            {
                markers.Add(firstPixels);
                sizes.Add((int)input.shape[0]);
            }

            entered.TrySetResult(firstPixels);
            if (!open.Wait(TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException("the test never opened the gate");
            }

            return inner.forward(input);
        }
    }
}
