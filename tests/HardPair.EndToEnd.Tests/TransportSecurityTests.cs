using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>Both services on https with mutual TLS (a self-signed CA made for the test), as real processes.</summary>
[Collection(TorchCollection.Name)]
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
            ("sidecar without client certificate", stack.SidecarAddress, tls.Handler(null, null)),
        };
        foreach (var (name, address, handler) in refused)
        {
            using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
            var error = await Assert.ThrowsAsync<RpcException>(() => new Classifier.ClassifierClient(channel)
                .ClassifyAsync(new ClassifyRequest { Image = TestImage() }, deadline: DateTime.UtcNow + Call, cancellationToken: ct).ResponseAsync);
            Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unimplemented, $"{name}: {error.Status}");
        }

        // Still serving the certified client after all that.
        Assert.Equal(Stack.BootstrapVersion, (await stack.Classifier().ClassifyAsync(new ClassifyRequest { Image = TestImage() }, deadline: DateTime.UtcNow + Call, cancellationToken: ct)).ModelVersion);
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
