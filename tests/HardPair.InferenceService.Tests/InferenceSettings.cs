using HardPair.Testing;

namespace HardPair.InferenceService.Tests;

internal static class InferenceSettings
{
    public const string AdminToken = "admin-token-0123456789abcdef";

    public static Dictionary<string, string?> For(string store, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Torch:Device"] = "cpu",
            ["Torch:Threads"] = "2",
            ["Checkpoints:Path"] = store,
            ["Admin:Token"] = AdminToken,
            ["Inference:PollInterval"] = "00:00:00.500",
            ["Sidecar:Address"] = "http://127.0.0.1:9",
            ["Sidecar:Timeout"] = "00:00:00.500",
            ["Sidecar:Retries"] = "1",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    public static Task<LoopbackHost> StartAsync(string store, IReadOnlyDictionary<string, string?>? overrides = null) => LoopbackHost.StartAsync(
        b => Extensions.InferenceServiceExtensions.AddInferenceServices(b),
        app => Extensions.InferenceServiceExtensions.MapInferenceEndpoints(app),
        For(store, overrides));

    /// <summary>Starts the service and waits until it serves a model (health SERVING).</summary>
    public static async Task<LoopbackHost> StartServingAsync(string store, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var host = await StartAsync(store, overrides);
        var health = new Grpc.Health.V1.Health.HealthClient(host.Channel);
        for (var i = 0; i < 100; i++)
        {
            if ((await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), cancellationToken: TestContext.Current)).Status == Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving)
            {
                return host;
            }

            await Task.Delay(100, TestContext.Current);
        }

        await host.DisposeAsync();
        throw new TimeoutException("the service never loaded the checkpoint");
    }
}
