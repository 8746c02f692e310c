using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Testing;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests;

/// <summary>The service's other doors: the Prometheus scrape endpoint and the admin API on a port of its own.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Process)]
public sealed class EndpointTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task Metrics_PrometheusEndpoint_ExposesRequestsBatchesTheServingVersionAndTheRuntime()
    {
        checkpoint.CopyInto(store.Path);
        var port = ServiceProcess.FreePort();
        await using var host = await InferenceSettings.StartAsync(store.Path, new Dictionary<string, string?> { ["Metrics:PrometheusPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var client = new Classifier.ClassifierClient(host.Channel);
        await WaitForModelAsync(client);
        await client.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) }, cancellationToken: TestContext.Current);
        await Assert.ThrowsAsync<RpcException>(() => client.ClassifyAsync(new ClassifyRequest(), cancellationToken: TestContext.Current).ResponseAsync);

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), TestContext.Current);

        Assert.Contains("hardpair_inference_requests_total{", text, StringComparison.Ordinal);
        Assert.Contains("status=\"InvalidArgument\"", text, StringComparison.Ordinal);
        Assert.Contains("hardpair_inference_batch_size", text, StringComparison.Ordinal);
        Assert.Contains($"version=\"{checkpoint.Version}\"", text, StringComparison.Ordinal);
        // The runtime's meter: the serving benchmark waits on the JIT time to measure steady state.
        Assert.Matches(@"(?m)^dotnet_jit_compilation_time_seconds_total\{[^}]*\} [0-9.e+-]+$", text);
        Assert.Contains("dotnet_gc_collections_total{", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// The chart's Grafana dashboard queries only series the service exports: after calls over
    /// both protocols, a swap, a refused candidate and ambiguous answers, every metric its
    /// queries name is in a real scrape of /metrics.
    /// </summary>
    [Fact]
    public async Task GrafanaDashboard_EveryMetricItQueries_IsInTheScrape_AfterASwapARefusalAndAmbiguousAnswers()
    {
        var first = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var second = checkpoint.CopyInto(store.Path, "v20260101T000000001Z-bbbbbbbb");
        var port = ServiceProcess.FreePort();
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?> { ["Metrics:PrometheusPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        var admin = Admin(host.Channel);
        var client = new Classifier.ClassifierClient(host.Channel);
        await admin.ActivateModelAsync(new ActivateModelRequest { Version = first, Pin = true }, cancellationToken: TestContext.Current);
        await admin.ActivateModelAsync(new ActivateModelRequest { Version = second, Pin = true }, cancellationToken: TestContext.Current);
        var broken = checkpoint.CopyInto(store.Path, "v20260101T000000002Z-cccccccc");
        File.WriteAllBytes(Path.Combine(store.Path, broken, HardPair.Storage.Checkpoints.CheckpointFiles.Weights), [1, 2, 3]);
        await Assert.ThrowsAsync<RpcException>(() => admin.ActivateModelAsync(new ActivateModelRequest { Version = broken }, cancellationToken: TestContext.Current).ResponseAsync);
        var batch = new ClassifyBatchRequest();
        batch.Requests.AddRange(Enumerable.Range(0, 256).Select(i => new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }));
        var answers = await client.ClassifyBatchAsync(batch, cancellationToken: TestContext.Current);
        var oip = new Protos.Inference.GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        await oip.ModelInferAsync(new Protos.Inference.ModelInferRequest
        {
            ModelName = "classifier",
            Inputs = { new Protos.Inference.ModelInferRequest.Types.InferInputTensor { Name = "image", Datatype = "UINT8", Shape = { 1, 1, 28, 28 } } },
            RawInputContents = { Google.Protobuf.ByteString.CopyFrom(checkpoint.Test.Image(0)) },
        }, cancellationToken: TestContext.Current);

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), TestContext.Current);
        var names = GrafanaDashboard.MetricNames(GrafanaDashboard.Read());

        Assert.Contains(answers.Responses, r => r.HardPair.Ambiguous);
        Assert.NotEmpty(names);
        Assert.Empty(GrafanaDashboard.MissingFrom(names, text));
        Assert.Contains("method=\"ModelInfer\"", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// As the chart sets them (every interface, "+") in a process whose gRPC port comes from
    /// <c>urls</c>, as the sidecar's does: both listen, and the metrics port serves /metrics alone.
    /// </summary>
    [Fact]
    public async Task Metrics_OnEveryInterface_ListenBesideTheUrlsEndpoint_AndServeOnlyTheScrape()
    {
        checkpoint.CopyInto(store.Path);
        var address = new Uri($"http://127.0.0.1:{ServiceProcess.FreePort()}");
        var port = ServiceProcess.FreePort();
        string[] args =
        [
            .. InferenceSettings.For(store.Path).SelectMany(kv => new[] { $"--{kv.Key}", kv.Value ?? "" }),
            "--urls", address.ToString(),
            "--Metrics:PrometheusPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Metrics:PrometheusHost", "+",
        ];
        await using var service = await ServiceProcess.StartAsync("HardPair.InferenceService", args, TimeSpan.FromMinutes(1), TestContext.Current, address);
        await WaitForModelAsync(new Classifier.ClassifierClient(service.Channel));

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), TestContext.Current);
        var other = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/grpc.health.v1.Health/Check"), TestContext.Current);

        Assert.Contains("hardpair_inference_", text, StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, other.StatusCode);
        // Every interface: the machine's own address answers too (where it has one besides loopback).
        var own = System.Net.Dns.GetHostAddresses(System.Net.Dns.GetHostName())
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !System.Net.IPAddress.IsLoopback(a));
        if (own is not null)
        {
            Assert.Contains("hardpair_inference_", await http.GetStringAsync(new Uri($"http://{own}:{port}/metrics"), TestContext.Current), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Admin_OnItsOwnPort_IsNotServedBesideClassify()
    {
        checkpoint.CopyInto(store.Path);
        var main = new Uri($"http://127.0.0.1:{ServiceProcess.FreePort()}");
        var adminPort = ServiceProcess.FreePort();
        string[] args =
        [
            .. InferenceSettings.For(store.Path).SelectMany(kv => new[] { $"--{kv.Key}", kv.Value ?? "" }),
            "--Kestrel:Endpoints:Main:Url", main.ToString(),
            "--Kestrel:Endpoints:Admin:Url", $"http://127.0.0.1:{adminPort}",
            "--Inference:AdminPort", adminPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ];
        await using var service = await ServiceProcess.StartAsync("HardPair.InferenceService", args, TimeSpan.FromMinutes(1), TestContext.Current, main);
        using var adminChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{adminPort}");

        var onMain = await Assert.ThrowsAsync<RpcException>(() => Admin(service.Channel).ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current).ResponseAsync);
        var onAdmin = await Admin(adminChannel).ListModelsAsync(new ListModelsRequest(), cancellationToken: TestContext.Current);

        Assert.Equal(StatusCode.Unimplemented, onMain.StatusCode);
        Assert.Contains(onAdmin.Models, m => m.Version == checkpoint.Version);
        await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(adminChannel).ListModelsAsync(new ListModelsRequest { }, new Metadata { { "authorization", "Bearer wrong-token-0123456789" } }, cancellationToken: TestContext.Current).ResponseAsync);
        Assert.DoesNotContain(InferenceSettings.AdminToken, service.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token-0123456789", service.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Torch_InTheService_LetsIdleOpenMpThreadsSleepUnlessTheOperatorChose()
    {
        checkpoint.CopyInto(store.Path);
        var address = new Uri($"http://127.0.0.1:{ServiceProcess.FreePort()}");
        string[] args = [.. InferenceSettings.For(store.Path).SelectMany(kv => new[] { $"--{kv.Key}", kv.Value ?? "" }), "--urls", address.ToString()];
        await using var service = await ServiceProcess.StartAsync("HardPair.InferenceService", args, TimeSpan.FromMinutes(1), TestContext.Current, address);

        // Request threads share the CPUs with libtorch's: its idle workers must not spin (appsettings.json).
        var expected = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE";
        Assert.Contains($"OpenMP wait policy: {expected}", service.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The Open Inference Protocol's readiness in a real process, over gRPC and the REST twin on
    /// every interface: false while the store is empty, true once a checkpoint is published into it.
    /// </summary>
    [Fact]
    public async Task OpenInference_ReadinessInAProcess_IsFalseUntilTheFirstCheckpointLoads_OnBothTransports()
    {
        var address = new Uri($"http://127.0.0.1:{ServiceProcess.FreePort()}");
        var rest = ServiceProcess.FreePort();
        string[] args =
        [
            .. InferenceSettings.For(store.Path).SelectMany(kv => new[] { $"--{kv.Key}", kv.Value ?? "" }),
            "--urls", address.ToString(),
            "--OpenInference:RestPort", rest.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--OpenInference:RestHost", "+",
        ];
        await using var service = await ServiceProcess.StartAsync("HardPair.InferenceService", args, TimeSpan.FromMinutes(1), TestContext.Current, address, healthService: "liveness");
        var oip = new Protos.Inference.GRPCInferenceService.GRPCInferenceServiceClient(service.Channel);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{rest}") };

        var serverBefore = await oip.ServerReadyAsync(new Protos.Inference.ServerReadyRequest(), cancellationToken: TestContext.Current);
        var modelBefore = await oip.ModelReadyAsync(new Protos.Inference.ModelReadyRequest { Name = "classifier" }, cancellationToken: TestContext.Current);
        var restBefore = await http.GetAsync(new Uri("/v2/models/classifier/ready", UriKind.Relative), TestContext.Current);
        var live = await http.GetAsync(new Uri("/v2/health/live", UriKind.Relative), TestContext.Current);

        checkpoint.CopyInto(store.Path);
        var modelAfter = false;
        for (var i = 0; i < 100 && !modelAfter; i++)
        {
            await Task.Delay(100, TestContext.Current);
            modelAfter = (await oip.ModelReadyAsync(new Protos.Inference.ModelReadyRequest { Name = "classifier" }, cancellationToken: TestContext.Current)).Ready;
        }

        var serverAfter = await oip.ServerReadyAsync(new Protos.Inference.ServerReadyRequest(), cancellationToken: TestContext.Current);
        var restAfter = await http.GetAsync(new Uri("/v2/health/ready", UriKind.Relative), TestContext.Current);

        Assert.False(serverBefore.Ready);
        Assert.False(modelBefore.Ready);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, restBefore.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
        Assert.True(modelAfter);
        Assert.True(serverAfter.Ready);
        Assert.Equal(System.Net.HttpStatusCode.OK, restAfter.StatusCode);
    }

    private static Admin.AdminClient Admin(GrpcChannel channel) =>
        new(channel.Intercept(headers =>
        {
            headers.Add("authorization", $"Bearer {InferenceSettings.AdminToken}");
            return headers;
        }));

    private static async Task WaitForModelAsync(Classifier.ClassifierClient client)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                await client.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: TestContext.Current);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                await Task.Delay(100, TestContext.Current);
            }
        }
    }
}
