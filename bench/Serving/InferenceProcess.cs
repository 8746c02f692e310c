using System.Diagnostics;
using System.Globalization;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace HardPair.Bench.Serving;

/// <summary>The inference service as a real process on loopback, with its Prometheus endpoint for batch statistics.</summary>
internal sealed class InferenceProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly int metricsPort;
    private readonly HttpClient http = new();

    private InferenceProcess(Process process, Uri address, int metricsPort)
    {
        this.process = process;
        this.metricsPort = metricsPort;
        Address = address;
        Channel = GrpcChannel.ForAddress(address);
    }

    public Uri Address { get; }

    public GrpcChannel Channel { get; }

    public const string AdminToken = "benchmark-token-0123456789";

    public HardPair.Protos.V1.Admin.AdminClient Admin => new(Grpc.Core.Interceptors.ChannelExtensions.Intercept(Channel, headers =>
    {
        headers.Add("authorization", $"Bearer {AdminToken}");
        return headers;
    }));

    /// <summary>Resident memory of the service process, from /proc (Linux).</summary>
    public long ResidentBytes()
    {
        var line = File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>CPU time the service has used so far (user + system, from /proc/PID/stat).</summary>
    public TimeSpan CpuTime()
    {
        var stat = File.ReadAllText($"/proc/{process.Id}/stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
    }

    /// <summary>USER_HZ: 100 on every Linux architecture .NET runs on.</summary>
    private const int ClockTicksPerSecond = 100;

    public static async Task<InferenceProcess> StartAsync(string root, string store, bool batching, IEnumerable<string>? extra = null, ServiceTorch? torch = null, int? maxBatch = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var folder = Path.Combine(root, "src", "InferenceService", "bin", "Release", "net10.0");
        var address = new Uri($"http://127.0.0.1:{ServingBenchmark.FreePort()}");
        var metricsPort = ServingBenchmark.FreePort();
        string[] command =
        [
            "dotnet", Path.Combine(folder, "HardPair.InferenceService.dll"), "--urls", address.ToString(), "--contentRoot", folder,
            "--Checkpoints:Path", store, "--Admin:Token", AdminToken,
            // Batching on: the service's own batch size unless one is given.
            .. (batching ? maxBatch is { } size ? ["--Inference:MaxBatchSize", size.ToString(CultureInfo.InvariantCulture)] : Array.Empty<string>() : ["--Inference:MaxBatchSize", "1"]),
            "--Inference:QueueCapacity", "4096",
            "--Metrics:PrometheusPort", metricsPort.ToString(CultureInfo.InvariantCulture),
            "--Logging:LogLevel:Default", "Warning",
            // The per-client limiter stays in the path but never refuses: one process drives all the load.
            "--RateLimit:ImagesPerSecond", "10000000", "--RateLimit:Burst", "10000000",
            .. (torch ?? new ServiceTorch("cpu", null, true)).ServiceArguments(),
            .. extra ?? [],
        ];
        var start = RawLimit.Pinned(torch?.Cpus, command);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var service = new InferenceProcess(process, address, metricsPort);
        await WaitUntilServingAsync(process, service.Channel, "the inference service");
        return service;
    }

    /// <summary>Drains the process's output (so it never blocks on a full pipe) and waits for gRPC health SERVING.</summary>
    internal static async Task WaitUntilServingAsync(Process process, GrpcChannel channel, string what)
    {
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var health = new Health.HealthClient(channel);
        for (var i = 0; i < 600; i++)
        {
            try
            {
                if ((await health.CheckAsync(new HealthCheckRequest())).Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (Grpc.Core.RpcException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"{what} did not start serving");
    }

    /// <summary>Sum and count of the batch-size histogram from the Prometheus endpoint.</summary>
    public async Task<(double Sum, double Count)> BatchStatsAsync() =>
        (await MetricAsync("hardpair_inference_batch_size_sum"), await MetricAsync("hardpair_inference_batch_size_count"));

    /// <summary>Seconds the service's JIT has spent compiling (the runtime meter's counter).</summary>
    public Task<double> JitSecondsAsync() => MetricAsync("dotnet_jit_compilation_time_seconds_total");

    /// <summary>The sum over every series of one metric on the service's Prometheus endpoint.</summary>
    private async Task<double> MetricAsync(string name)
    {
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
        return text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{')
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).Sum();
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        http.Dispose();
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
    }
}
