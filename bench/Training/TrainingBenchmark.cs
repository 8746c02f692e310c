using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HardPair.CommandLine;

namespace HardPair.Bench.Training;

/// <summary>
/// Runs, per method and round, our worker and the PyTorch reference as separate processes
/// (alternating which goes first), keeps each implementation's best round, prints the table and
/// writes training.json.
/// </summary>
internal static class TrainingBenchmark
{
    private static readonly string[] Methods = ["standard", "pgd-at", "trades", "spat"];

    public static async Task<int> RunAsync(CommandArguments line)
    {
        var settings = BenchSettings.From(line);
        var rounds = line.Int("rounds", 2, 1, 20);
        var methods = line.Optional("methods")?.Split(',') ?? Methods;
        // Debian's python3-torch by default; a GPU machine's own PyTorch lives elsewhere.
        var python = line.Optional("python") ?? "/usr/bin/python3";
        var root = FindRoot();
        var output = line.Optional("out") ?? Path.Combine(root, "bench", "results", $"training-{DateTime.UtcNow:yyyyMMdd'T'HHmmss'Z'}");
        line.RejectUnknown(0);
        Directory.CreateDirectory(output);

        var results = new List<WorkerResult>();
        foreach (var method in methods)
        {
            for (var round = 0; round < rounds; round++)
            {
                var ours = RunWorker("dotnet", [typeof(TrainingBenchmark).Assembly.Location, "--worker", "--method", method, .. settings.Arguments()]);
                var reference = RunWorker(python, [Path.Combine(root, "bench", "Training", "reference.py"), "--method", method, .. settings.Arguments()]);
                foreach (var run in round % 2 == 0 ? new[] { ours, reference } : [reference, ours])
                {
                    var result = await run();
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method} round {round + 1}: {result.Implementation} {result.StepsPerSecond:0.000} steps/s, peak {result.PeakRssMiB:0} MiB"));
                    results.Add(result);
                }
            }
        }

        var rows = methods.Select(method => Row.From(method, results)).ToArray();
        PrintTable(settings, rounds, rows);
        var json = JsonSerializer.Serialize(
            new { Settings = settings, Rounds = rounds, Machine = Environment.MachineName, Cores = Environment.ProcessorCount, Rows = rows, Runs = results },
            new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(output, "training.json"), json);
        Console.WriteLine($"wrote {Path.Combine(output, "training.json")}");
        return 0;
    }

    private static void PrintTable(BenchSettings settings, int rounds, IReadOnlyList<Row> rows)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"small-cnn (cosine head), batch {settings.BatchSize}, attack K = {settings.AttackSteps}, {settings.Threads} threads, {settings.Steps} timed steps after {settings.Warmup}, best of {rounds}"));
        Console.WriteLine("| method | HardPair steps/s | PyTorch steps/s | ratio | HardPair peak MiB | PyTorch peak MiB |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            Console.WriteLine(string.Create(c, $"| {r.Method} | {r.Ours.StepsPerSecond:0.000} | {r.Reference.StepsPerSecond:0.000} | {r.Ratio:0.00} | {r.Ours.PeakRssMiB:0} | {r.Reference.PeakRssMiB:0} |"));
        }

        Console.WriteLine($"HardPair: {rows[0].Ours.Version}; PyTorch: {rows[0].Reference.Version}");
    }

    private static Func<Task<WorkerResult>> RunWorker(string program, IEnumerable<string> arguments) => async () =>
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', start.ArgumentList)} exited with {process.ExitCode}: {await stderr}");
        }

        var last = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        return JsonSerializer.Deserialize<WorkerResult>(last, new JsonSerializerOptions(JsonSerializerDefaults.Web))
            ?? throw new InvalidOperationException($"{program} printed no result");
    };

    internal static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "HardPair.Services.sln")))
            {
                return folder.FullName;
            }
        }

        throw new UsageException("run the benchmark from inside the repository (it needs bench/Training/reference.py)");
    }

    /// <summary>One method's best round of each implementation; ratio = ours / reference.</summary>
    private sealed record Row(string Method, WorkerResult Ours, WorkerResult Reference, double Ratio)
    {
        public static Row From(string method, IReadOnlyList<WorkerResult> results)
        {
            WorkerResult Best(string implementation) => results
                .Where(r => r.Method == method && r.Implementation == implementation)
                .MaxBy(r => r.StepsPerSecond)!;
            var ours = Best("hardpair");
            var reference = Best("pytorch");
            return new Row(method, ours, reference, ours.StepsPerSecond / reference.StepsPerSecond);
        }
    }
}
