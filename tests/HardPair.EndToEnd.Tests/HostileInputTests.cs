using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using HardPair.Protos.V1;
using HardPair.Storage.Data;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>
/// The seeded hostile-input campaign against the real processes (inference + sidecar behind it):
/// thousands of broken requests over every Classify field, raw frames and the admin RPCs.
/// </summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class HostileInputTests
{
    private const int Seed = 20261125;
    private const int Cases = 3000;
    private const string WrongToken = "wrong-token-0123456789";

    [Fact]
    public async Task SeededFuzz_EveryCaseGetsItsStatus_TheServiceStaysUp_AndMemoryStaysBounded()
    {
        var ct = TestContext.Current;
        await using var stack = Stack.Create();
        await stack.StartSidecarAsync(ct);
        // One caller sends everything here, faster than the default per-client limit allows on a
        // fast machine; rate limiting has its own test.
        await stack.StartInferenceAsync(ct, new Dictionary<string, string> { ["RateLimit:ImagesPerSecond"] = "0" });
        var inference = stack.Inference!;
        using var raw = new RawGrpc(stack.InferenceAddress);
        var targets = new FuzzTargets(
            stack.Classifier(),
            stack.Admin(),
            new Admin.AdminClient(inference.Channel.Intercept(headers =>
            {
                headers.Add("authorization", $"Bearer {WrongToken}");
                return headers;
            })),
            raw,
            ct);
        var images = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(500);
        var fuzzer = new RequestFuzzer(Seed, images);

        // Warm up (code paths, allocator arenas) before the memory baseline.
        for (var i = 0; i < 300; i++)
        {
            await Run(fuzzer.Next(), targets);
        }

        var before = inference.ResidentBytes();
        var failures = new List<string>();
        for (var i = 0; i < Cases; i++)
        {
            var c = fuzzer.Next();
            if (await Run(c, targets) is { } failure)
            {
                failures.Add($"#{i} {c.Name}: {failure}");
            }

            Assert.False(inference.HasExited, $"the service died at case #{i} ({c.Name}):\n{inference.Output}");
        }

        // One message over the transport cap (64 MiB), refused before it is parsed.
        var huge = new ClassifyRequest { Image = new Image { Uint8Pixels = Google.Protobuf.ByteString.CopyFrom(new byte[65 * 1024 * 1024]), Shape = { 1, 28, 28 } } };
        var tooBig = await Assert.ThrowsAsync<RpcException>(() => targets.Classifier.ClassifyAsync(huge, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, tooBig.StatusCode);

        var after = inference.ResidentBytes();
        Assert.True(failures.Count == 0, $"{failures.Count} of {Cases} cases got the wrong answer:\n{string.Join('\n', failures.Take(30))}\nservice log (end):\n{Tail(inference.Output)}");
        Assert.True(after < before + (256L << 20), $"resident memory grew from {before >> 20} MiB to {after >> 20} MiB over {Cases} hostile cases");
        var health = await new Health.HealthClient(inference.Channel).CheckAsync(new HealthCheckRequest(), cancellationToken: ct);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        // Hundreds of admin calls with the right and a wrong token (the right one forwarded to the
        // sidecar): neither appears in either process's log.
        Assert.DoesNotContain(Stack.Token, inference.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(WrongToken, inference.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Stack.Token, stack.Sidecar!.Output, StringComparison.Ordinal);
    }

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;

    private static async Task<string?> Run(FuzzCase c, FuzzTargets targets)
    {
        try
        {
            await c.Call(targets);
            return c.Expected.Mismatch(StatusCode.OK, null);
        }
        catch (RpcException ex)
        {
            return c.Expected.Mismatch(ex.StatusCode, ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or IOException)
        {
            return $"{ex.GetType().Name}: {ex.Message}";
        }
    }
}
