using Grpc.Health.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Extensions;

namespace HardPair.TrainerSidecar.Tests;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class TrainerHostTests : IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task Start_OnLoopback_ServesHealthOnceTorchRuns()
    {
        await using var host = await StartAsync();
        var health = new Grpc.Health.V1.Health.HealthClient(host.Channel);

        var response = await health.CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Start_WithAbandonedStaging_RemovesIt()
    {
        var abandoned = store.Combine(CheckpointStore.StagingFolder, "v1.2147483646.dead");
        Directory.CreateDirectory(abandoned);
        File.WriteAllText(Path.Combine(abandoned, CheckpointFiles.Weights), "half written");

        await using var host = await StartAsync();

        Assert.False(Directory.Exists(abandoned));
    }

    private Task<LoopbackHost> StartAsync() => LoopbackHost.StartAsync(
        b => b.AddTrainerServices(),
        app => app.MapTrainerEndpoints(),
        SidecarSettings.For(store, new Dictionary<string, string?> { ["Checkpoints:Path"] = store.Path }));
}
