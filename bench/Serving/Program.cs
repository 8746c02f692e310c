using HardPair.Bench.Serving;

return await ServingBenchmark.RunAsync(args);
