using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using HardPair.InferenceService.Admission;
using HardPair.Protos.V1;
using HardPair.Testing;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests.Admission;

/// <summary>Per-client rate limiting of classification: off by default; clients told apart by API key, or by their real source address when asked.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class RateLimitTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task ByPeerAddress_AFloodingClient_IsRefusedWithAPushbackWhileAnotherIsServed()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        // One image per second in bursts of 5, per source address.
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?>
        {
            ["RateLimit:ImagesPerSecond"] = "1",
            ["RateLimit:Burst"] = "5",
            ["RateLimit:Key"] = "PeerAddress",
        });
        var flooder = new Classifier.ClassifierClient(host.Channel);
        using var otherChannel = ChannelFrom(IPAddress.Parse("127.0.0.2"), host.Address);
        var other = new Classifier.ClassifierClient(otherChannel);
        var image = Uint8(checkpoint.Test, 0);

        // A batch of 5 empties the bucket; the next batch of 5 right after it is refused even if
        // a slow machine took a few seconds over the first (it would need five refilled permits).
        var burst = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 5).Select(_ => new ClassifyRequest { Image = image }) } };
        Assert.Equal(5, (await flooder.ClassifyBatchAsync(burst, cancellationToken: TestContext.Current)).Responses.Count);
        var refused = await Assert.ThrowsAsync<RpcException>(() => flooder.ClassifyBatchAsync(burst, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("rate limit", refused.Status.Detail, StringComparison.Ordinal);
        var pushback = int.Parse(refused.Trailers.GetValue(ClientRateLimiter.RetryPushbackTrailer)!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(pushback, 1, 6000);

        // A call larger than the whole bucket is refused outright, not charged less.
        var tooLarge = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 6).Select(_ => new ClassifyRequest { Image = image }) } };
        var outright = await Assert.ThrowsAsync<RpcException>(() => other.ClassifyBatchAsync(tooLarge, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, outright.StatusCode);
        Assert.Contains("exceeds this client's burst", outright.Status.Detail, StringComparison.Ordinal);

        // Another client (another source address) has a bucket of its own. (How buckets refill
        // is tested on a fake clock: TokenBucketsTests.)
        var answers = await other.ClassifyBatchAsync(burst, cancellationToken: TestContext.Current);
        Assert.Equal(5, answers.Responses.Count);
    }

    [Fact]
    public async Task Default_OneClientSendingFlatOut_IsNeverRefused()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var client = new Classifier.ClassifierClient(host.Channel);
        var batch = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 256).Select(i => new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }) } };

        // 12 288 images from one address as fast as three callers can send them: past the old
        // default bucket (4 000 at once, 2 000/s after) within seconds, and all answered.
        var answered = await Task.WhenAll(Enumerable.Range(0, 3).Select(async _ =>
        {
            var images = 0;
            for (var call = 0; call < 16; call++)
            {
                images += (await client.ClassifyBatchAsync(batch, cancellationToken: TestContext.Current)).Responses.Count;
            }

            return images;
        }));

        Assert.Equal(3 * 16 * 256, answered.Sum());
    }

    [Fact]
    public async Task ByIdentity_EachApiKey_HasItsOwnBucket_AnUnknownKeyIsUnauthenticated_AndKeylessCallersShareOne()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        using var secrets = new TempDirectory();
        var keys = secrets.Combine("api-keys.txt");
        File.WriteAllLines(keys, ["# clients of the limit", "alpha:alpha-key-0123456789abcdef", "beta: beta-key-0123456789abcdef"]);
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?>
        {
            ["RateLimit:ImagesPerSecond"] = "1",
            ["RateLimit:Burst"] = "5",
            ["RateLimit:ApiKeysFile"] = keys,
        });
        var client = new Classifier.ClassifierClient(host.Channel);
        using var otherChannel = ChannelFrom(IPAddress.Parse("127.0.0.2"), host.Address);
        var otherAddress = new Classifier.ClassifierClient(otherChannel);
        var burst = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 5).Select(i => new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }) } };
        Metadata Key(string key) => new() { { ApiKeys.Header, key } };

        // alpha spends its bucket; beta, on the same connection, still has its own.
        await client.ClassifyBatchAsync(burst, Key("alpha-key-0123456789abcdef"), cancellationToken: TestContext.Current);
        var alphaRefused = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyBatchAsync(burst, Key("alpha-key-0123456789abcdef"), cancellationToken: TestContext.Current).ResponseAsync);
        await client.ClassifyBatchAsync(burst, Key("beta-key-0123456789abcdef"), cancellationToken: TestContext.Current);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, Key("gamma-key-0123456789abcdef"), cancellationToken: TestContext.Current).ResponseAsync);

        // Callers without a key share one bucket whatever their address (behind a proxy
        // every address would be the proxy's).
        await client.ClassifyBatchAsync(burst, cancellationToken: TestContext.Current);
        var anonymousRefused = await Assert.ThrowsAsync<RpcException>(() => otherAddress.ClassifyBatchAsync(burst, cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, alphaRefused.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, unknown.StatusCode);
        Assert.Contains(ApiKeys.Header, unknown.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.ResourceExhausted, anonymousRefused.StatusCode);
    }

    /// <summary>A channel whose connections leave from <paramref name="source"/> (any 127.0.0.0/8 address is the loopback on Linux).</summary>
    private static GrpcChannel ChannelFrom(IPAddress source, Uri address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
    });
}
