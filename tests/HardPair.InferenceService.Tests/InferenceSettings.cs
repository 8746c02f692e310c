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
}
