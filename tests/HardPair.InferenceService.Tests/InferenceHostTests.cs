using Grpc.Health.V1;
using HardPair.InferenceService.Extensions;
using HardPair.ML.Torch;
using HardPair.Testing;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.Tests;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class InferenceHostTests : IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task Start_OnLoopback_StartsTorchAndReportsNotServingWithoutAModel()
    {
        await using var host = await StartAsync(new Dictionary<string, string?>());
        var health = new Grpc.Health.V1.Health.HealthClient(host.Channel);

        var response = await health.CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, response.Status);
        Assert.NotNull(TorchRuntime.Current);
    }

    [Fact]
    public async Task Start_InvalidTorchDevice_FailsAtStartNamingTheSetting()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new Dictionary<string, string?> { ["Torch:Device"] = "gpu" }));

        Assert.Contains("Device must be auto, cpu, cuda or cuda:N", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Inference:Executors", "0")]
    [InlineData("Inference:Executors", "65")]
    [InlineData("Inference:MaxBatchSize", "0")]
    [InlineData("Inference:MaxArrivalGap", "00:00:02")]
    [InlineData("Inference:MaxArrivalGap", "-00:00:00.001")]
    [InlineData("OpenInference:RestHost", "example.com")]
    [InlineData("OpenInference:ModelName", "my model")]
    [InlineData("OpenInference:RestPort", "70000")]
    public async Task Start_InvalidBatchingOrProtocolSetting_FailsAtStartNamingIt(string key, string value)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new Dictionary<string, string?> { [key] = value }));

        Assert.Contains(key.Split(':')[1], error.Message, StringComparison.Ordinal);
    }

    private Task<LoopbackHost> StartAsync(Dictionary<string, string?> settings)
    {
        settings.TryAdd("Torch:Device", "cpu");
        settings.TryAdd("Admin:Token", InferenceSettings.AdminToken);
        settings["Checkpoints:Path"] = store.Path;
        return LoopbackHost.StartAsync(b => b.AddInferenceServices(), app => app.MapInferenceEndpoints(), settings);
    }
}
