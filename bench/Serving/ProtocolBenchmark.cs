using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using HardPair.Protos.Inference;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.Bench.Serving;

/// <summary>
/// The Open Inference Protocol's cost beside hardpair.v1 (issue 25): one service (the shipped
/// checkpoint, batching on), closed-loop load at one concurrency, <c>Classify</c> and
/// <c>ModelInfer</c> (one raw UINT8 image a call, every output) in interleaved rounds — the order
/// alternating round by round, so drift in the machine's speed falls on both alike. The result is
/// the median of the rounds' throughput ratios ModelInfer / Classify; the bar is ≥ 0.90.
///
///   dotnet run -c Release --project bench/Serving -- --protocols [--seconds 10] [--rounds 5] [--concurrency 64] [--out DIR]
/// </summary>
internal static class ProtocolBenchmark
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string root, string output, TimeSpan phase, int roundCount, int concurrency)
    {
        var store = Path.Combine(root, "models", "bootstrap");
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        var images = Enumerable.Range(0, 512).Select(i => test.Image(i).ToArray()).ToArray();
        Console.WriteLine($"machine: {Environment.ProcessorCount} CPUs; concurrency {concurrency}, {phase.TotalSeconds:0} s a phase, {roundCount} rounds; {DateTime.UtcNow:u}");
        await using var service = await InferenceProcess.StartAsync(root, store, batching: true);
        var classifier = new Classifier.ClassifierClient(service.Channel);
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(service.Channel);
        var classifyRequests = images.Select(pixels => new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(pixels), Shape = { 1, 28, 28 } } }).ToArray();
        var inferRequests = images.Select(pixels => new ModelInferRequest
        {
            ModelName = "classifier",
            Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "image", Datatype = "UINT8", Shape = { 1, 1, 28, 28 } } },
            RawInputContents = { ByteString.CopyFrom(pixels) },
        }).ToArray();
        Task<LoadResult> Classify(string mode, double seconds) =>
            ServingBenchmark.LoadAsync(service, concurrency, seconds, mode, () => new UnaryCaller(i => classifier.ClassifyAsync(classifyRequests[i % classifyRequests.Length]).ResponseAsync));
        Task<LoadResult> Infer(string mode, double seconds) =>
            ServingBenchmark.LoadAsync(service, concurrency, seconds, mode, () => new UnaryCaller(i => oip.ModelInferAsync(inferRequests[i % inferRequests.Length]).ResponseAsync));

        // Warm-up: both paths, until the JIT's first tiers are behind them.
        for (var i = 0; i < 3; i++)
        {
            await Classify("warm-up", phase.TotalSeconds / 2);
            await Infer("warm-up", phase.TotalSeconds / 2);
        }

        var rounds = new List<object>();
        var ratios = new List<double>();
        Console.WriteLine(string.Create(C, $"{"round",5} {"Classify req/s",15} {"p50",6} {"p99",6} {"ModelInfer req/s",17} {"p50",6} {"p99",6} {"ratio",6}"));
        for (var round = 1; round <= roundCount; round++)
        {
            LoadResult classify, infer;
            if (round % 2 == 1)
            {
                classify = await Classify("Classify", phase.TotalSeconds);
                infer = await Infer("ModelInfer", phase.TotalSeconds);
            }
            else
            {
                infer = await Infer("ModelInfer", phase.TotalSeconds);
                classify = await Classify("Classify", phase.TotalSeconds);
            }

            var ratio = infer.RequestsPerSecond / classify.RequestsPerSecond;
            ratios.Add(ratio);
            rounds.Add(new { round, classify, infer, ratio });
            Console.WriteLine(string.Create(C, $"{round,5} {classify.RequestsPerSecond,15:0} {classify.P50,6:0.0} {classify.P99,6:0.0} {infer.RequestsPerSecond,17:0} {infer.P50,6:0.0} {infer.P99,6:0.0} {ratio,6:0.000}"));
            if (classify.Failed + infer.Failed > 0)
            {
                Console.WriteLine($"  failed calls: {classify.Failures} {infer.Failures}");
            }
        }

        var sorted = ratios.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        Console.WriteLine(string.Create(C, $"\nModelInfer / Classify at concurrency {concurrency}: {median:0.000} (median of {roundCount} rounds; range {sorted[0]:0.000}-{sorted[^1]:0.000}); bar >= 0.90: {(median >= 0.9 ? "met" : "NOT met")}"));
        var json = JsonSerializer.Serialize(new { machine = new { cpus = Environment.ProcessorCount }, date = DateTime.UtcNow, concurrency, phaseSeconds = phase.TotalSeconds, median, rounds }, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(output, "protocols.json"), json);
        Console.WriteLine($"written {Path.Combine(output, "protocols.json")}");
        return 0;
    }

    /// <summary>One unary call per image.</summary>
    private sealed class UnaryCaller(Func<int, Task> call) : ILoadCaller
    {
        public Task CallAsync(int image) => call(image);

        public Task CompleteAsync() => Task.CompletedTask;

        public void Dispose()
        {
        }
    }
}
