using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>The one-version promise of ClassifyBatch, against a real service process whose serving version flips under load.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class BatchConsistencyTests
{
    private const int Swaps = 24;

    [Fact]
    public async Task ClassifyBatchLargerThanAForwardPass_WhileTheVersionFlips_IsAnsweredByOneVersion_AndNoCallFails()
    {
        var cancellation = TestContext.Current;
        await using var stack = Stack.Create();
        var other = stack.CopyCheckpoint(Stack.BootstrapVersion, "v29990101T000000000Z-0000000a");
        string[] versions = [Stack.BootstrapVersion, other];
        // Forward passes of 32: each 100-image call needs four of them.
        await stack.StartInferenceAsync(cancellation, new Dictionary<string, string> { ["Inference:MaxBatchSize"] = "32" });
        var client = stack.Classifier();
        var admin = stack.Admin();

        using var stop = new CancellationTokenSource();
        var batchAnswers = new ConcurrentQueue<string[]>();
        var unaryAnswers = new ConcurrentQueue<string>();
        var failures = new ConcurrentQueue<string>();
        using var answered = new SemaphoreSlim(0);
        var batch = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 100).Select(Request) } };
        var batchCallers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var response = await client.ClassifyBatchAsync(batch, cancellationToken: CancellationToken.None);
                    Assert.Equal(100, response.Responses.Count);
                    batchAnswers.Enqueue([.. response.Responses.Select(r => r.ModelVersion).Distinct()]);
                    answered.Release();
                }
                catch (RpcException ex)
                {
                    failures.Enqueue($"ClassifyBatch: {ex.Status}");
                }
            }
        }));
        var unaryCallers = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    unaryAnswers.Enqueue((await client.ClassifyAsync(Request(i), cancellationToken: CancellationToken.None)).ModelVersion);
                }
                catch (RpcException ex)
                {
                    failures.Enqueue($"Classify: {ex.Status}");
                }
            }
        }));
        var callers = batchCallers.Concat(unaryCallers).ToList();

        // Each swap waits for one more batch answer, so the swaps spread over the batch calls.
        for (var swap = 0; swap < Swaps; swap++)
        {
            Assert.True(await answered.WaitAsync(TimeSpan.FromSeconds(60), cancellation), "no batch answer within a minute");
            var target = versions[(swap + 1) % 2];
            var activated = await admin.ActivateModelAsync(new ActivateModelRequest { Version = target, Pin = true }, cancellationToken: cancellation);
            Assert.Equal(target, activated.ServingVersion);
        }

        Assert.True(await answered.WaitAsync(TimeSpan.FromSeconds(60), cancellation), "no batch answer after the last swap");
        await stop.CancelAsync();
        await Task.WhenAll(callers);

        Assert.Empty(failures);
        Assert.All(batchAnswers, a => Assert.True(a.Length == 1, $"one batch call was answered by {string.Join(" and ", a)}"));
        // Both versions answered batch calls and unary ones: the swaps landed among them.
        Assert.Equal(versions.Order(), batchAnswers.Select(a => a[0]).Distinct().Order());
        Assert.Equal(versions.Order(), unaryAnswers.Distinct().Order());
    }

    private static ClassifyRequest Request(int index)
    {
        var pixels = new byte[28 * 28];
        new Random(index).NextBytes(pixels);
        return new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(pixels), Shape = { 1, 28, 28 } }, RequestId = $"r{index}" };
    }
}
