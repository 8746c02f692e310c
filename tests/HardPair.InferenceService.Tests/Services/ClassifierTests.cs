using System.Diagnostics;
using System.Diagnostics.Metrics;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using Grpc.Health.V1;
using HardPair.InferenceService.Models;
using HardPair.Protos.V1;
using HardPair.Testing;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests.Services;

/// <summary>Classify on real Kestrel with a real trained checkpoint: answers, signals, bad input, batching, deadlines.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class ClassifierTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task Classify_RealImage_AnswersWithCalibratedSignalsFromTheServingVersion()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await StartServingAsync();
        var client = new Classifier.ClassifierClient(host.Channel);

        var byBytes = await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0), RequestId = "a" }, cancellationToken: TestContext.Current);
        var byFloats = await client.ClassifyAsync(new ClassifyRequest { Image = Floats(checkpoint.Test, 0), TopK = 5 }, cancellationToken: TestContext.Current);
        var byPng = await client.ClassifyAsync(new ClassifyRequest { Image = Png(checkpoint.Test, 0) }, cancellationToken: TestContext.Current);
        var byRgbPng = await client.ClassifyAsync(new ClassifyRequest { Image = Png(checkpoint.Test, 0, rgb: true) }, cancellationToken: TestContext.Current);

        Assert.Equal(checkpoint.Version, byBytes.ModelVersion);
        Assert.Equal("a", byBytes.RequestId);
        Assert.Equal(10, byBytes.Probabilities.Count);
        Assert.Equal(1.0, byBytes.Probabilities.Sum(), 4);
        Assert.Equal(byBytes.Probabilities.Max(), byBytes.Confidence);
        Assert.Equal(byBytes.Probabilities.IndexOf(byBytes.Confidence), byBytes.Label);
        Assert.Equal(checkpoint.Test.ClassNames[byBytes.Label], byBytes.ClassName);
        Assert.Equal(3, byBytes.TopK.Count);
        Assert.Equal(5, byFloats.TopK.Count);
        Assert.True(byBytes.TopK.Zip(byBytes.TopK.Skip(1)).All(p => p.First.Probability >= p.Second.Probability));
        Assert.Equal(byBytes.TopK[0].Label, byBytes.HardPair.First.Label);
        Assert.Equal(byBytes.TopK[1].Label, byBytes.HardPair.Second.Label);
        Assert.Equal(byBytes.HardPair.First.Probability - byBytes.HardPair.Second.Probability, byBytes.HardPair.Margin, 5);
        Assert.Equal(checkpoint.Report.HardPairs.PairHardness[byBytes.Label][byBytes.HardPair.Second.Label], byBytes.HardPair.PairHardness, 5);
        Assert.Equal(byBytes.Probabilities, byFloats.Probabilities);
        Assert.Equal(byBytes.Probabilities, byPng.Probabilities);
        Assert.Equal(byBytes.Label, byRgbPng.Label);
    }

    public static TheoryData<string, ClassifyRequest, StatusCode, string> BadRequests()
    {
        var good = new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(new byte[784]), Shape = { 1, 28, 28 } } };
        ClassifyRequest With(Action<ClassifyRequest> change)
        {
            var request = good.Clone();
            change(request);
            return request;
        }

        return new()
        {
            { "no image", new ClassifyRequest(), StatusCode.InvalidArgument, "image" },
            { "wrong shape", With(r => r.Image.Shape[2] = 27), StatusCode.InvalidArgument, "image.shape" },
            { "3-d colour shape", With(r => r.Image.Shape[0] = 3), StatusCode.InvalidArgument, "image.shape" },
            { "no shape", With(r => r.Image.Shape.Clear()), StatusCode.InvalidArgument, "image.shape" },
            { "too few bytes", With(r => r.Image.Uint8Pixels = ByteString.CopyFrom(new byte[783])), StatusCode.InvalidArgument, "image.uint8_pixels" },
            { "empty bytes", With(r => r.Image.Uint8Pixels = ByteString.Empty), StatusCode.InvalidArgument, "image.uint8_pixels" },
            { "NaN", With(r => r.Image = new Image { FloatPixels = new FloatPixels { Values = { Enumerable.Repeat(float.NaN, 784) } }, Shape = { 28, 28 } }), StatusCode.InvalidArgument, "image.float_pixels.values[0]" },
            { "out of range", With(r => r.Image = new Image { FloatPixels = new FloatPixels { Values = { Enumerable.Repeat(1.5f, 784) } }, Shape = { 28, 28 } }), StatusCode.InvalidArgument, "image.float_pixels.values[0]" },
            { "infinity", With(r => r.Image = new Image { FloatPixels = new FloatPixels { Values = { Enumerable.Repeat(float.PositiveInfinity, 784) } }, Shape = { 28, 28 } }), StatusCode.InvalidArgument, "image.float_pixels.values[0]" },
            { "not a png", With(r => r.Image = new Image { Png = ByteString.CopyFromUtf8("GIF89a....") }), StatusCode.InvalidArgument, "image.png" },
            { "empty png", With(r => r.Image = new Image { Png = ByteString.Empty }), StatusCode.InvalidArgument, "image.png" },
            { "20 MB of pixels", With(r => r.Image.Uint8Pixels = ByteString.CopyFrom(new byte[20_000_000])), StatusCode.InvalidArgument, "image.uint8_pixels" },
            { "top_k too big", With(r => r.TopK = 11), StatusCode.InvalidArgument, "top_k" },
            { "negative top_k", With(r => r.TopK = -1), StatusCode.InvalidArgument, "top_k" },
        };
    }

    [Fact]
    public async Task Classify_BadInputs_GetTheirStatusWithFieldViolations_AndServingGoesOn()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await StartServingAsync();
        var client = new Classifier.ClassifierClient(host.Channel);

        foreach (var (name, request, code, field) in BadRequests().Select(row => ((string)row[0], (ClassifyRequest)row[1], (StatusCode)row[2], (string)row[3])))
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(request, cancellationToken: TestContext.Current).ResponseAsync);
            Assert.True(code == error.StatusCode, $"{name}: {error.StatusCode} {error.Status.Detail}");
            var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations);
            Assert.True(violation.Field == field, $"{name}: field {violation.Field}, expected {field}");
        }

        var tooMany = new ClassifyBatchRequest();
        tooMany.Requests.AddRange(Enumerable.Range(0, 257).Select(i => new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }));
        var batchError = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyBatchAsync(tooMany, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, batchError.StatusCode);
        var mixed = new ClassifyBatchRequest { Requests = { new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, new ClassifyRequest() } };
        var mixedError = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyBatchAsync(mixed, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal("requests[1].image", Assert.Single(mixedError.GetRpcStatus()!.GetDetail<BadRequest>().FieldViolations).Field);

        var still = await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 1) }, cancellationToken: TestContext.Current);
        Assert.Equal(checkpoint.Version, still.ModelVersion);
    }

    [Fact]
    public async Task Classify_NoModelYet_IsUnavailableAndHealthSaysNotServing()
    {
        await using var host = await InferenceSettings.StartAsync(store.Path);
        var client = new Classifier.ClassifierClient(host.Channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, cancellationToken: TestContext.Current).ResponseAsync);
        var health = await new Grpc.Health.V1.Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest { Service = "hardpair.v1.Classifier" }, cancellationToken: TestContext.Current);

        var liveness = await new Grpc.Health.V1.Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest { Service = "liveness" }, cancellationToken: TestContext.Current);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, health.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, liveness.Status);
    }

    [Fact]
    public async Task Classify_ConcurrentCallers_AreBatchedTogether_AndStreamsAnswerInOrder()
    {
        checkpoint.CopyInto(store.Path);
        var sizes = new List<int>();
        using var listener = BatchSizes(sizes);
        await using var host = await StartServingAsync(new Dictionary<string, string?> { ["Inference:MaxQueueDelay"] = "00:00:00.020" });
        var client = new Classifier.ClassifierClient(host.Channel);

        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }, cancellationToken: TestContext.Current).ResponseAsync));
        using var stream = client.ClassifyStream(cancellationToken: TestContext.Current);
        for (var i = 0; i < 5; i++)
        {
            await stream.RequestStream.WriteAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i), RequestId = $"s{i}" }, TestContext.Current);
        }

        await stream.RequestStream.CompleteAsync();
        var streamed = await stream.ResponseStream.ReadAllAsync(TestContext.Current).ToListAsync(TestContext.Current);

        Assert.All(answers, a => Assert.Equal(checkpoint.Version, a.ModelVersion));
        lock (sizes)
        {
            Assert.True(sizes.Max() > 1, $"batch sizes: {string.Join(", ", sizes)}");
        }

        Assert.Equal(["s0", "s1", "s2", "s3", "s4"], streamed.Select(r => r.RequestId));
        Assert.Equal(answers.Take(5).Select(a => a.Label), streamed.Select(r => r.Label));
    }

    [Fact]
    public async Task Classify_WithoutAWindow_ImagesThatQueueDuringAForwardPassFormTheNextBatch()
    {
        checkpoint.CopyInto(store.Path);
        var sizes = new List<int>();
        using var listener = BatchSizes(sizes);
        await using var host = await StartServingAsync(new Dictionary<string, string?> { ["Inference:MaxQueueDelay"] = "00:00:00" });
        var client = new Classifier.ClassifierClient(host.Channel);

        var answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i), RequestId = $"r{i}" }, cancellationToken: TestContext.Current).ResponseAsync));

        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"r{i}"), answers.Select(a => a.RequestId));
        lock (sizes)
        {
            // Nothing waited for company, yet the callers that arrived while a batch computed
            // were computed together.
            Assert.Equal(64, sizes.Sum());
            Assert.True(sizes.Max() > 1, $"batch sizes: {string.Join(", ", sizes)}");
        }
    }

    [Fact]
    public async Task Classify_SeveralExecutors_AnswerEveryCallerAsOneExecutorWould()
    {
        checkpoint.CopyInto(store.Path);
        var sizes = new List<int>();
        using var listener = BatchSizes(sizes);
        await using var host = await StartServingAsync(new Dictionary<string, string?>
        {
            ["Inference:Executors"] = "3",
            ["Inference:MaxBatchSize"] = "4",
            ["Inference:MaxQueueDelay"] = "00:00:00.005",
        });
        var client = new Classifier.ClassifierClient(host.Channel);

        // One at a time first (batches of one), then 48 callers at once over three executors.
        var alone = new List<ClassifyResponse>();
        for (var i = 0; i < 48; i++)
        {
            alone.Add(await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }, cancellationToken: TestContext.Current));
        }

        var together = await Task.WhenAll(Enumerable.Range(0, 48).Select(i => client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i), RequestId = $"r{i}" }, cancellationToken: TestContext.Current).ResponseAsync));

        for (var i = 0; i < 48; i++)
        {
            Assert.Equal($"r{i}", together[i].RequestId);
            Assert.Equal(alone[i].Label, together[i].Label);
            Assert.All(alone[i].Probabilities.Zip(together[i].Probabilities), p => Assert.Equal(p.First, p.Second, 4));
        }

        lock (sizes)
        {
            Assert.True(sizes.Max() > 1, $"batch sizes: {string.Join(", ", sizes)}");
            Assert.True(sizes.Max() <= 4, $"batch sizes: {string.Join(", ", sizes)}");
        }
    }

    [Fact]
    public async Task Classify_HostStopsWhileABatchGathers_TheCallIsAnsweredBeforeTheHostStops()
    {
        checkpoint.CopyInto(store.Path);
        var host = await StartServingAsync(new Dictionary<string, string?> { ["Inference:MaxQueueDelay"] = "00:00:01" });
        var client = new Classifier.ClassifierClient(host.Channel);
        var waiting = client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, cancellationToken: TestContext.Current).ResponseAsync;
        await Task.Delay(200, TestContext.Current);

        // The image sits in a batch that gathers for a second: Kestrel drains the call before the
        // batcher stops, so the caller gets its answer, and the host then stops.
        var stopping = host.App.StopAsync(TestContext.Current);
        var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current);
        await stopping.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current);
        await host.DisposeAsync();

        Assert.Equal(checkpoint.Version, answer.ModelVersion);
    }

    [Fact]
    public async Task Classify_DeadlinePassesInTheQueue_IsDeadlineExceededAndNotComputed()
    {
        checkpoint.CopyInto(store.Path);
        var sizes = new List<int>();
        await using var host = await StartServingAsync(new Dictionary<string, string?> { ["Inference:MaxQueueDelay"] = "00:00:01" });
        var client = new Classifier.ClassifierClient(host.Channel);
        using var listener = BatchSizes(sizes);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(
            new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) },
            deadline: DateTime.UtcNow.AddMilliseconds(300),
            cancellationToken: TestContext.Current).ResponseAsync);

        // The next call is computed in a batch of its own: the expired image left the queue and
        // never reached a forward pass (it would have been in this batch or an earlier one).
        await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 1) }, cancellationToken: TestContext.Current);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        lock (sizes)
        {
            Assert.Equal([1], sizes);
        }
    }

    [Fact]
    public async Task Classify_QueueFull_IsResourceExhausted()
    {
        checkpoint.CopyInto(store.Path);
        // One image per forward pass and room for one waiting image: of 64 callers at once, some
        // must find the queue full (8 callers against a batcher that gathers for 500 ms could all
        // be drained in time on a slow machine).
        await using var host = await StartServingAsync(new Dictionary<string, string?> { ["Inference:MaxBatchSize"] = "1", ["Inference:QueueCapacity"] = "1", ["Inference:MaxRequestsPerBatchCall"] = "1" });
        var client = new Classifier.ClassifierClient(host.Channel);

        var calls = Enumerable.Range(0, 64).Select(i => client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }, cancellationToken: TestContext.Current).ResponseAsync).ToList();
        var outcomes = await Task.WhenAll(calls.Select(async c =>
        {
            try
            {
                await c;
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                return ex.StatusCode;
            }
        }));

        Assert.Contains(StatusCode.ResourceExhausted, outcomes);
        Assert.Contains(StatusCode.OK, outcomes);
        Assert.All(outcomes, s => Assert.True(s is StatusCode.OK or StatusCode.ResourceExhausted, s.ToString()));
    }

    [Fact]
    public async Task Signals_OnFashionMnistTestImages_AmbiguousCallsAreDominatedByKnownHardPairs_AndInfoReportsEce()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await StartServingAsync();
        var client = new Classifier.ClassifierClient(host.Channel);
        var known = new HashSet<(string, string)>
        {
            ("Shirt", "T-shirt/top"), ("Coat", "Pullover"), ("Coat", "Shirt"), ("Pullover", "Shirt"),
            ("Ankle boot", "Sneaker"), ("Sandal", "Sneaker"), ("Dress", "T-shirt/top"), ("Coat", "Dress"), ("Dress", "Shirt"),
        };

        var responses = new List<ClassifyResponse>();
        for (var start = 1000; start < 3000; start += 250)
        {
            var batch = new ClassifyBatchRequest();
            batch.Requests.AddRange(Enumerable.Range(start, 250).Select(i => new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }));
            responses.AddRange((await client.ClassifyBatchAsync(batch, cancellationToken: TestContext.Current)).Responses);
        }

        var ambiguous = responses.Where(r => r.HardPair.Ambiguous).Select(r => Pair(r.HardPair.First.ClassName, r.HardPair.Second.ClassName)).ToList();
        var onKnown = ambiguous.Count(known.Contains) / (double)ambiguous.Count;
        var info = await client.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);

        Console.WriteLine($"{ambiguous.Count} of {responses.Count} ambiguous; {onKnown:P0} on known hard pairs; ECE {info.EceBefore:P2} → {info.EceAfter:P2}");
        Assert.InRange(ambiguous.Count, 20, responses.Count / 2);
        Assert.True(onKnown >= 0.8, $"{onKnown:P0} of ambiguous calls on known hard pairs: {string.Join(", ", ambiguous.GroupBy(p => p).Select(g => $"{g.Key}×{g.Count()}"))}");
        Assert.Equal(checkpoint.Report.EceAfter, info.EceAfter, 9);
        Assert.Equal(checkpoint.Report.Temperature, info.CalibrationTemperature, 9);
        Assert.Equal(checkpoint.Version, info.Version);
        Assert.NotEmpty(info.HardPairs);

        // The model card's facts: the recipe, per-class accuracy under the headline suite, and
        // what "robust" means.
        Assert.Equal("standard", info.Training.Method);
        Assert.Equal(checkpoint.Report.ValidationExamples, info.Training.ValidationExamples);
        Assert.Equal(1, info.Training.HyperParameters["scale"]);
        var classes = checkpoint.Report.Classes;
        Assert.Equal(classes.Select(c => c.Name), info.Classes.Select(c => c.Name));
        Assert.All(info.Classes.Zip(classes), pair =>
        {
            Assert.Equal(pair.Second.CleanAccuracy, pair.First.CleanAccuracy, 9);
            Assert.NotNull(pair.First.RobustAccuracy);
            Assert.Equal(pair.Second.RobustAccuracy[TrainedCheckpointFixture.Suite], pair.First.RobustAccuracy.Value, 9);
            Assert.Equal(pair.Second.HardPartner, pair.First.HardPartner);
        });
        Assert.Contains("per-example worst case of apgd-ce5, square20", info.ThreatModel, StringComparison.Ordinal);
        Assert.Contains("not a certificate", info.ThreatModel, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Classify_WithTheRobustnessProbe_FindsFlipsOnAStandardModel_AndOnlyWhenAsked()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await StartServingAsync();
        var client = new Classifier.ClassifierClient(host.Channel);

        var plain = await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, cancellationToken: TestContext.Current);
        var probed = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i), RobustnessProbe = true }, cancellationToken: TestContext.Current).ResponseAsync));

        Assert.Null(plain.Robustness);
        Assert.All(probed, r =>
        {
            Assert.True(r.Robustness.Ran && r.Robustness.Completed);
            Assert.Equal(0.1f, r.Robustness.Epsilon, 5);
            Assert.Equal(r.Robustness.AdversarialLabel != r.Label, r.Robustness.LabelFlips);
            Assert.Equal(checkpoint.Test.ClassNames[r.Robustness.AdversarialLabel], r.Robustness.AdversarialClassName);
        });

        // A standard-trained network (about 25% FGSM accuracy) loses most labels to a 10-step PGD at ε = 0.1.
        Assert.True(probed.Count(r => r.Robustness.LabelFlips) >= 10, $"{probed.Count(r => r.Robustness.LabelFlips)} of 20 flipped");
    }

    private static (string, string) Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);

    private Task<LoopbackHost> StartServingAsync(IReadOnlyDictionary<string, string?>? overrides = null) =>
        InferenceSettings.StartServingAsync(store.Path, overrides);

    private static MeterListener BatchSizes(List<int> sizes)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == InferenceMetrics.MeterName && instrument.Name == "hardpair.inference.batch_size")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
        {
            lock (sizes)
            {
                sizes.Add(value);
            }
        });
        listener.Start();
        return listener;
    }
}
