using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using Grpc.Net.Client;
using HardPair.CommandLine;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;

namespace HardPair.Bench.Cycles;

/// <summary>N continuous cycles of the real sidecar from one checkpoint, and what each did.</summary>
internal static class CycleBenchmark
{
    private const string Token = "cycles-benchmark-token-0123456789";
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(CommandArguments line)
    {
        var from = Path.GetFullPath(line.Required("from"));
        var cycles = line.Int("cycles", 5, 1, 100);
        var root = FindRoot();
        // --collect DIR: the cycles already ran into DIR (cycle-N.json) and DIR/final.json holds the
        // final suite, evaluated by hand after the bench stopped; only the summary is written.
        var collect = line.Optional("collect");
        var output = Path.GetFullPath(collect ?? line.Optional("out") ?? Path.Combine(root, "bench", "results", $"cycles-{DateTime.UtcNow:yyyyMMddTHHmmssZ}"));
        var finalAttacks = line.Optional("final-attacks") ?? "clean,autoattack";
        var finalSubset = line.Int("final-subset", 1000, 10, 10_000);
        var threads = line.Int("threads", Environment.ProcessorCount, 1, 256);
        var settings = (line.Optional("settings") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Split('=', 2) is [var key, var value] ? (key, value) : throw new UsageException($"--settings: '{s}' is not Key=value"))
            .ToList();
        line.RejectUnknown(0);
        var gate = GateSettings.Effective(SidecarProcess.Folder(root), settings);

        var start = CheckpointReader.Verify(from);
        var store = Path.Combine(output, "store");
        var records = collect is null ? await RunCyclesAsync(root, from, start, store, output, cycles, threads, settings) : Collected(output);
        var last = records.LastOrDefault(r => r.Published is { Length: > 0 })?.Published ?? start.Version;
        string final;
        if (collect is null)
        {
            Console.WriteLine($"full suite ({finalAttacks}, first {finalSubset}) on {last}");
            final = await EvaluateAsync(root, Path.Combine(store, last), finalAttacks, finalSubset, threads);
            File.WriteAllText(Path.Combine(output, "final.json"), final);
        }
        else
        {
            var finalPath = Path.Combine(output, "final.json");
            final = records.Count > 0 && File.Exists(finalPath)
                ? File.ReadAllText(finalPath)
                : throw new UsageException($"--collect {output}: needs cycle-1.json … and final.json there");
        }

        // The cycles' wall time: from the first run's start to the last one's end.
        var wall = records.Count == 0 ? 0 : (records.Max(r => r.Finished) - records.Min(r => r.Started)).TotalSeconds;
        var summary = new CycleSummary(start.Version, start.Metrics.CleanAccuracy, gate, last, wall, records, JsonDocument.Parse(final).RootElement);
        File.WriteAllText(Path.Combine(output, "cycles.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
        var table = summary.Table();
        File.WriteAllText(Path.Combine(output, "table.md"), table);
        Console.Write(table);
        CycleChart.Write(records, Path.Combine(output, "cycles.png"));
        return 0;
    }

    /// <summary>Copies the start checkpoint into a fresh store and records <paramref name="cycles"/> cycles of the real sidecar on it.</summary>
    private static async Task<List<CycleRecord>> RunCyclesAsync(
        string root, string from, CheckpointManifest start, string store, string output, int cycles, int threads, IReadOnlyList<(string Key, string Value)> settings)
    {
        Directory.CreateDirectory(Path.Combine(store, start.Version));
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(store, start.Version, Path.GetFileName(file)), overwrite: true);
        }

        Console.WriteLine($"{cycles} cycles from {start.Version} ({start.Training.Method}); results in {output}");
        var records = new List<CycleRecord>();
        await using var sidecar = await SidecarProcess.StartAsync(root, store, Path.Combine(output, "state"), threads, settings, Path.Combine(output, "sidecar.log"));
        var trainer = new Trainer.TrainerClient(sidecar.Channel.Intercept(headers =>
        {
            headers.Add("authorization", $"Bearer {Token}");
            return headers;
        }));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (records.Count < cycles)
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            sidecar.ThrowIfExited();
            var runs = (await trainer.ListRunsAsync(new ListRunsRequest { Limit = 100 })).Runs;
            foreach (var run in runs.Where(r => IsFinished(r.Phase) && seen.Add(r.RunId)).OrderBy(r => r.CreatedAt.ToDateTimeOffset()))
            {
                var record = CycleRecord.From(records.Count + 1, run);
                records.Add(record);
                Console.WriteLine(record.Line());
                File.WriteAllText(Path.Combine(output, $"cycle-{record.Cycle}.json"), JsonFormatter.Default.Format(run));
            }
        }

        return records;
    }

    /// <summary>The cycles an earlier invocation recorded in <paramref name="output"/>, in order.</summary>
    private static List<CycleRecord> Collected(string output) =>
        [.. Enumerable.Range(1, 100)
            .Select(n => Path.Combine(output, $"cycle-{n}.json"))
            .TakeWhile(File.Exists)
            .Select((path, i) => CycleRecord.From(i + 1, JsonParser.Default.Parse<Run>(File.ReadAllText(path))))];

    private static bool IsFinished(RunPhase phase) => phase is RunPhase.Published or RunPhase.Rejected or RunPhase.Failed or RunPhase.Cancelled or RunPhase.Interrupted;

    /// <summary>The offline <c>evaluate --json</c> of one checkpoint folder, in a process of its own.</summary>
    private static async Task<string> EvaluateAsync(string root, string checkpoint, string attacks, int subset, int threads)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            Path.Combine(SidecarProcess.Folder(root), "HardPair.TrainerSidecar.dll"), "evaluate", "--checkpoint", checkpoint,
            "--attacks", attacks, "--test-subset", subset.ToString(C), "--threads", threads.ToString(C), "--json",
        })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var json = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? json : throw new InvalidOperationException($"evaluate failed ({process.ExitCode}): {await error}");
    }

    internal static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HardPair.Services.sln")))
            {
                return dir.FullName;
            }
        }

        throw new UsageException("run from inside the repository (HardPair.Services.sln not found above the binary)");
    }

    /// <summary>The sidecar as a real process: continuous, a second between cycles, the first at once.</summary>
    private sealed class SidecarProcess : IAsyncDisposable
    {
        private readonly Process process;
        private readonly StreamWriter log;

        private SidecarProcess(Process process, StreamWriter log, GrpcChannel channel)
        {
            this.process = process;
            this.log = log;
            Channel = channel;
        }

        public GrpcChannel Channel { get; }

        public static string Folder(string root) => Path.Combine(root, "src", "TrainerSidecar", "bin", "Release", "net10.0");

        public static async Task<SidecarProcess> StartAsync(string root, string store, string state, int threads, IReadOnlyList<(string Key, string Value)> settings, string logPath)
        {
            var folder = Folder(root);
            var address = new Uri($"http://127.0.0.1:{FreePort()}");
            var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            var args = new List<string>
            {
                Path.Combine(folder, "HardPair.TrainerSidecar.dll"), "--urls", address.ToString(), "--contentRoot", folder,
                "--Checkpoints:Path", store, "--Trainer:StatePath", state, "--Trainer:Continuous", "true",
                "--Trainer:CycleInterval", "00:00:01", "--Trainer:FirstCycleDelay", "00:00:00",
                "--Control:Token", Token, "--Torch:Threads", threads.ToString(C),
            };
            foreach (var (key, value) in settings)
            {
                args.AddRange([$"--{key}", value]);
            }

            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
            await log.WriteLineAsync($"dotnet {string.Join(' ', args)}");
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, e) => Write(log, e.Data);
            process.ErrorDataReceived += (_, e) => Write(log, e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var sidecar = new SidecarProcess(process, log, GrpcChannel.ForAddress(address));
            var health = new Health.HealthClient(sidecar.Channel);
            for (var i = 0; i < 600; i++)
            {
                sidecar.ThrowIfExited();
                try
                {
                    if ((await health.CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving)
                    {
                        return sidecar;
                    }
                }
                catch (RpcException)
                {
                }

                await Task.Delay(100);
            }

            throw new TimeoutException("the sidecar did not start serving");
        }

        public void ThrowIfExited()
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the sidecar exited ({process.ExitCode}); see sidecar.log");
            }
        }

        public async ValueTask DisposeAsync()
        {
            Channel.Dispose();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
            await log.DisposeAsync();
        }

        private static void Write(StreamWriter log, string? text)
        {
            if (text is not null)
            {
                lock (log)
                {
                    log.WriteLine(text);
                }
            }
        }

        private static int FreePort()
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}

/// <summary>What one cycle did.</summary>
internal sealed record CycleRecord(
    int Cycle, string RunId, string Phase, string Method, bool Accepted, string Reason,
    double CandidateClean, double CandidateRobust, double ServingRobust, string ServingVersion, string Published,
    string Attack, int Examples, double Seconds, DateTimeOffset Started, DateTimeOffset Finished)
{
    public static CycleRecord From(int cycle, Run run) => new(
        cycle, run.RunId, run.Phase.ToString(), run.Method, run.Gate?.Accepted ?? false, run.Gate?.Reason ?? run.Error,
        run.Gate?.CandidateCleanAccuracy ?? 0, run.Gate?.CandidateRobustAccuracy ?? 0, run.Gate?.ServingRobustAccuracy ?? -1,
        run.Gate?.ServingVersion ?? "", run.PublishedVersion, run.Evaluation?.RobustAttack ?? "", run.Evaluation?.Examples ?? 0,
        run.StartedAt is null || run.FinishedAt is null ? 0 : (run.FinishedAt.ToDateTimeOffset() - run.StartedAt.ToDateTimeOffset()).TotalSeconds,
        run.StartedAt?.ToDateTimeOffset() ?? default, run.FinishedAt?.ToDateTimeOffset() ?? default);

    public string Line() => string.Create(
        CultureInfo.InvariantCulture,
        $"cycle {Cycle}: {Phase} ({Method}) candidate {CandidateClean:P1} clean / {CandidateRobust:P1} {Attack} vs serving {ServingRobust:P1}; {Seconds:F0} s — {Reason}");
}

/// <summary>The benchmark's result: the cycles and the full suite on the last version served.</summary>
internal sealed record CycleSummary(string StartVersion, double StartClean, GateSettings Gate, string FinalVersion, double WallSeconds, IReadOnlyList<CycleRecord> Cycles, JsonElement Final)
{
    public string Table()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"From `{StartVersion}`; {Cycles.Count} cycles in {WallSeconds / 60:F0} min; the gate measures candidate and serving model on {Gate.Examples} held-out images, robust under `{Gate.Attack}`.");
        text.AppendLine();
        text.AppendLine("| cycle | decision | method | candidate clean | candidate robust | serving robust | published | wall s |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in Cycles)
        {
            var decision = r.Accepted ? "published" : r.Phase.ToLowerInvariant();
            text.AppendLine(c, $"| {r.Cycle} | {decision} | {r.Method} | {r.CandidateClean:P1} | {r.CandidateRobust:P1} | {(r.ServingRobust < 0 ? "—" : r.ServingRobust.ToString("P1", c))} | {(r.Published.Length > 0 ? r.Published : "—")} | {r.Seconds:F0} |");
        }

        text.AppendLine();
        var clean = Final.GetProperty("clean").GetDouble();
        var robust = Final.TryGetProperty("robust", out var summary) && summary.ValueKind == JsonValueKind.Object
            ? string.Create(c, $"{summary.GetProperty("accuracy").GetDouble():P1} under {summary.GetProperty("attack").GetString()} on {summary.GetProperty("examples").GetInt32()} images")
            : "not measured";
        text.AppendLine(c, $"Last version served, `{FinalVersion}`: {clean:P1} clean on {Final.GetProperty("testExamples").GetInt32()} test images, {robust}.");
        return text.ToString();
    }
}

/// <summary>The gate's suite and image count the sidecar ran with: its appsettings.json, then <c>--settings</c>.</summary>
internal sealed record GateSettings(string Attack, int Examples)
{
    public static GateSettings Effective(string sidecarFolder, IReadOnlyList<(string Key, string Value)> settings)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(sidecarFolder, "appsettings.json")));
        var defaults = json.RootElement.GetProperty("Trainer").GetProperty("Gate");
        string? Override(string key) => settings.LastOrDefault(s => string.Equals(s.Key, $"Trainer:Gate:{key}", StringComparison.OrdinalIgnoreCase)).Value;
        return new GateSettings(
            Override("Attack") ?? defaults.GetProperty("Attack").GetString()!,
            Override("Examples") is { } examples ? int.Parse(examples, CultureInfo.InvariantCulture) : defaults.GetProperty("Examples").GetInt32());
    }
}
