using System.Globalization;
using HardPair.CommandLine;

namespace HardPair.Bench.Training;

/// <summary>What both implementations are given; passed on to every worker process unchanged.</summary>
internal sealed record BenchSettings(int Steps, int Warmup, int BatchSize, int Threads, int AttackSteps, string Device)
{
    public static BenchSettings From(CommandArguments line) => new(
        line.Int("steps", 20, 1, 10_000),
        line.Int("warmup", 3, 1, 1_000),
        line.Int("batch-size", 128, 1, 4096),
        line.Int("threads", 2, 1, 256),
        line.Int("attack-steps", 10, 1, 1_000),
        line.Choice("device", "cpu", ["cpu", "cuda"]));

    /// <summary>The same hyper-parameters as the offline <c>train</c> defaults (cosine head, s = 8, β = 6, ε = 0.1, η = 2ε/K).</summary>
    public double Epsilon => 0.1;

    public double StepSize => 2 * Epsilon / AttackSteps;

    public IEnumerable<string> Arguments() =>
    [
        "--steps", Text(Steps), "--warmup", Text(Warmup), "--batch-size", Text(BatchSize),
        "--threads", Text(Threads), "--attack-steps", Text(AttackSteps), "--device", Device,
    ];

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
