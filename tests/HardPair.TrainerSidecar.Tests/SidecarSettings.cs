using HardPair.Testing;

namespace HardPair.TrainerSidecar.Tests;

/// <summary>Settings for a sidecar under test: its own store and state folders, a token, small budgets, no schedule.</summary>
internal static class SidecarSettings
{
    public const string Token = "test-token-0123456789abcdef";

    public static Dictionary<string, string?> For(TempDirectory temp, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Torch:Device"] = "cpu",
            ["Torch:Threads"] = "2",
            ["Checkpoints:Path"] = temp.Combine("store"),
            ["Trainer:StatePath"] = temp.Combine("state"),
            ["Trainer:Continuous"] = "false",
            ["Trainer:Epochs"] = "0.5",
            ["Trainer:TrainSubset"] = "1000",
            ["Trainer:AttackSteps"] = "2",
            ["Trainer:SnapshotEvery"] = "2",
            ["Trainer:Gate:Examples"] = "200",
            ["Trainer:Gate:TestExamples"] = "200",
            ["Trainer:Gate:Attack"] = "apgd-ce5+apgd-t1x5",
            ["Trainer:Gate:MinCleanAccuracy"] = "0.3",
            ["Control:Token"] = Token,
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>The same settings as <c>--Key value</c> arguments for a real process.</summary>
    public static IEnumerable<string> AsArguments(IReadOnlyDictionary<string, string?> settings) =>
        settings.SelectMany(kv => new[] { $"--{kv.Key}", kv.Value ?? "" });
}
