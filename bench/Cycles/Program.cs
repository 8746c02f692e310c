// The continuous loop, measured: from one checkpoint, N retraining cycles in a row by the real
// sidecar on its default settings (the local stack's), the cycle interval cut to a second. Per
// cycle: the gate's decision and its numbers (candidate and serving on the gate's held-out
// images), the published version, wall time; then the full suite on the last version served.
//
//   dotnet bench/Cycles/bin/Release/net10.0/HardPair.Bench.Cycles.dll --from CHECKPOINT_DIR
//       [--cycles 5] [--out bench/results/cycles-<stamp>] [--final-attacks clean,autoattack]
//       [--final-subset 1000] [--threads 2] [--settings Trainer:Key=value,...]
//   ... --from CHECKPOINT_DIR --collect DIR   the summary of cycles already recorded in DIR, with DIR/final.json
using HardPair.Bench.Cycles;
using HardPair.CommandLine;

try
{
    return await CycleBenchmark.RunAsync(CommandArguments.Parse(args));
}
catch (UsageException e)
{
    Console.Error.WriteLine($"cycles bench: {e.Message}");
    return 2;
}
