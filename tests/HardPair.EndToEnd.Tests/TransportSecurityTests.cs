using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>Both services on https with mutual TLS (a self-signed CA made for the test), as real processes.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class TransportSecurityTests
{
    private static readonly TimeSpan Call = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task MutualTls_ServesAndForwardsForCertifiedClients_AndRefusesEveryoneElse()
    {
        var ct = TestContext.Current;
        await using var stack = Stack.Create(mutualTls: true);
        await stack.StartSidecarAsync(ct);
        await stack.StartInferenceAsync(ct);
        var tls = stack.Tls!;

        // A certified client: classification, and an admin call the service forwards to the sidecar
        // over its own mutual-TLS channel.
        var answer = await stack.Classifier().ClassifyAsync(new ClassifyRequest { Image = TestImage() }, deadline: DateTime.UtcNow + Call, cancellationToken: ct);
        Assert.Equal(Stack.BootstrapVersion, answer.ModelVersion);
        var status = await stack.Admin().GetTrainingStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow + Call, cancellationToken: ct);
        Assert.True(status.Leader);

        // Everyone else: no client certificate, a certificate of another CA, plaintext, and a
        // client that does not trust the service's CA.
        var refused = new (string Case, Uri Address, HttpMessageHandler Handler)[]
        {
            ("no client certificate", stack.InferenceAddress, tls.Handler(null, null)),
            ("foreign client certificate", stack.InferenceAddress, tls.Handler(tls.ForeignCertificatePath, tls.ForeignKeyPath)),
            ("plaintext", new UriBuilder(stack.InferenceAddress) { Scheme = "http" }.Uri, new SocketsHttpHandler()),
            ("server not trusted", stack.InferenceAddress, tls.Handler(tls.ClientCertificatePath, tls.ClientKeyPath, trustCa: false)),
        };
        foreach (var (name, address, handler) in refused)
        {
            using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
            var error = await Assert.ThrowsAsync<RpcException>(() => new Classifier.ClassifierClient(channel)
                .ClassifyAsync(new ClassifyRequest { Image = TestImage() }, deadline: DateTime.UtcNow + Call, cancellationToken: ct).ResponseAsync);
            Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{name}: {error.Status}");
        }

        // The sidecar's control API, with the right token but no client certificate: refused at
        // the handshake, never reaching the token check (which would answer UNAUTHENTICATED).
        using (var bare = GrpcChannel.ForAddress(stack.SidecarAddress, new GrpcChannelOptions { HttpHandler = tls.Handler(null, null), DisposeHttpClient = true }))
        {
            var headers = new Metadata { { "authorization", $"Bearer {Stack.Token}" } };
            var error = await Assert.ThrowsAsync<RpcException>(() => new Trainer.TrainerClient(bare)
                .GetStatusAsync(new GetStatusRequest(), headers, deadline: DateTime.UtcNow + Call, cancellationToken: ct).ResponseAsync);
            Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"sidecar without client certificate: {error.Status}");
        }

        // A client certificate is not a server certificate: the client's own one, presented by a
        // "server", would not be trusted for that purpose (extended key usage is checked).
        Assert.False(new HardPair.Hosting.TlsOptions { CaPath = tls.CaPath }.IsTrusted(
            System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(tls.ClientCertificatePath, tls.ClientKeyPath),
            HardPair.Hosting.KeyPurpose.ServerAuthentication));

        // The kubelet's probes speak plaintext: each process answers health checks — and nothing
        // else — on its plaintext health port; the https ports stay https only.
        foreach (var (port, services) in new[] { (stack.InferenceHealthPort, new[] { "liveness", "hardpair.v1.Classifier" }), (stack.SidecarHealthPort, new[] { "liveness", "" }) })
        {
            using var probe = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            foreach (var service in services)
            {
                var health = await new Grpc.Health.V1.Health.HealthClient(probe).CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow + Call, cancellationToken: ct);
                Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
            }
        }

        using (var probe = GrpcChannel.ForAddress($"http://127.0.0.1:{stack.InferenceHealthPort}"))
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => new Classifier.ClassifierClient(probe)
                .ClassifyAsync(new ClassifyRequest { Image = TestImage() }, deadline: DateTime.UtcNow + Call, cancellationToken: ct).ResponseAsync);
            Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        }

        using (var probe = GrpcChannel.ForAddress($"http://127.0.0.1:{stack.SidecarHealthPort}"))
        {
            var headers = new Metadata { { "authorization", $"Bearer {Stack.Token}" } };
            var error = await Assert.ThrowsAsync<RpcException>(() => new Trainer.TrainerClient(probe)
                .GetStatusAsync(new GetStatusRequest(), headers, deadline: DateTime.UtcNow + Call, cancellationToken: ct).ResponseAsync);
            Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        }

        // Still serving the certified client after all that.
        Assert.Equal(Stack.BootstrapVersion, (await stack.Classifier().ClassifyAsync(new ClassifyRequest { Image = TestImage() }, deadline: DateTime.UtcNow + Call, cancellationToken: ct)).ModelVersion);
    }

    [Fact]
    public async Task RateLimitUnderMutualTls_IsKeyedByTheClientCertificate_NotTheSharedAddress()
    {
        var ct = TestContext.Current;
        await using var stack = Stack.Create(mutualTls: true);
        // One image per second in bursts of 5, per client: both clients below connect from 127.0.0.1.
        await stack.StartInferenceAsync(ct, new Dictionary<string, string> { ["RateLimit:ImagesPerSecond"] = "1", ["RateLimit:Burst"] = "5" });
        var tls = stack.Tls!;
        var burst = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 5).Select(_ => new ClassifyRequest { Image = TestImage() }) } };

        var first = stack.Classifier();
        Assert.Equal(5, (await first.ClassifyBatchAsync(burst, deadline: DateTime.UtcNow + Call, cancellationToken: ct)).Responses.Count);
        var refused = await Assert.ThrowsAsync<RpcException>(() => first.ClassifyBatchAsync(burst, deadline: DateTime.UtcNow + Call, cancellationToken: ct).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);

        // Another certificate from the same address has a bucket of its own.
        using var channel = GrpcChannel.ForAddress(stack.InferenceAddress, new GrpcChannelOptions { HttpHandler = tls.Handler(tls.SecondClientCertificatePath, tls.SecondClientKeyPath), DisposeHttpClient = true });
        var second = new Classifier.ClassifierClient(channel);
        Assert.Equal(5, (await second.ClassifyBatchAsync(burst, deadline: DateTime.UtcNow + Call, cancellationToken: ct)).Responses.Count);
    }

    [Fact]
    public async Task CertificateWithAPlaintextEndpoint_RefusesToStart()
    {
        using var root = new TempDirectory();
        var tls = TestCertificates.Create(root.Combine("tls"));
        var run = await ChildProcess.RunAsync(
            Executables.Path("InferenceService", "HardPair.InferenceService"),
            [
                "--contentRoot", Executables.Folder("InferenceService"), "--urls", $"http://127.0.0.1:{ServiceProcess.FreePort()}",
                "--Checkpoints:Path", root.Combine("store"), "--Admin:Token", Stack.Token,
                "--Tls:CertificatePath", tls.ServerCertificatePath, "--Tls:KeyPath", tls.ServerKeyPath,
            ],
            TimeSpan.FromMinutes(1),
            TestContext.Current);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("plaintext", run.Output + run.Error, StringComparison.Ordinal);
    }

    private static Image TestImage() => new() { Uint8Pixels = Google.Protobuf.ByteString.CopyFrom(new byte[28 * 28]), Shape = { 1, 28, 28 } };
}
