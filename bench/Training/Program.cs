// Training throughput: HardPair's trainer against a PyTorch reference of the same network, batch,
// objective, attack and thread count, each method in fresh processes, in one invocation.
//
//   dotnet bench/Training/bin/Release/net10.0/HardPair.Bench.Training.dll [--steps 20] [--rounds 2]
//       [--methods standard,pgd-at,trades,spat] [--device cpu|cuda] [--python /usr/bin/python3]
//   dotnet bench/Training/bin/Release/net10.0/HardPair.Bench.Training.dll --optimizer-step
//       [--steps 2000] [--rounds 5] [--device cpu|cuda] [--threads 2]   (the SGD step alone)
using HardPair.Bench.Training;
using HardPair.CommandLine;

try
{
    var line = CommandArguments.Parse(args);
    if (line.Flag("worker"))
    {
        return TrainingWorker.Run(line);
    }

    return line.Flag("optimizer-step")
        ? await OptimizerStepBenchmark.RunAsync(line, TrainingBenchmark.FindRoot())
        : await TrainingBenchmark.RunAsync(line);
}
catch (UsageException e)
{
    Console.Error.WriteLine($"training bench: {e.Message}");
    return 2;
}
