using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using HardPair.InferenceService.Admission;
using HardPair.Protos.V1;
using HardPair.Testing;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests;

/// <summary>Per-client rate limiting of classification, with clients told apart by their real source address.</summary>
[Collection(TorchCollection.Name)]
public sealed class RateLimitTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task A_flooding_client_is_refused_with_a_pushback_while_another_client_is_served()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        // One image per second in bursts of 5.
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?>
        {
            ["RateLimit:ImagesPerSecond"] = "1",
            ["RateLimit:Burst"] = "5",
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

        // Another client (another source address) has a bucket of its own.
        var answers = await other.ClassifyBatchAsync(burst, cancellationToken: TestContext.Current);
        Assert.Equal(5, answers.Responses.Count);

        // The flooder's bucket refills: a second later it is served again.
        await Task.Delay(TimeSpan.FromMilliseconds(1250), TestContext.Current);
        await flooder.ClassifyAsync(new ClassifyRequest { Image = image }, cancellationToken: TestContext.Current);
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
