using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Hosting;
using HardPair.InferenceService.Options;
using HardPair.Protos.V1;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Timeout;

namespace HardPair.InferenceService.Services;

/// <summary>
/// The admin API's way to the sidecar: a Trainer client behind the <c>sidecar</c> Polly pipeline
/// (retry with jitter on UNAVAILABLE, circuit breaker, timeout per attempt). A sidecar that is down
/// becomes UNAVAILABLE for the admin caller quickly; serving never waits on it.
/// </summary>
public sealed class SidecarForwarder : IDisposable
{
    public const string PipelineName = "sidecar";

    private readonly GrpcChannel channel;
    private readonly Trainer.TrainerClient client;
    private readonly ResiliencePipeline pipeline;
    private readonly Metadata headers;

    public SidecarForwarder(IOptions<SidecarOptions> options, IOptions<TlsOptions> tls, ResiliencePipelineProvider<string> pipelines)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(pipelines);
        // Reconnect soon after the sidecar comes back (a restart is the common outage). An https
        // sidecar must present a certificate of the deployment's CA; ours goes along (mTLS).
        channel = GrpcChannel.ForAddress(options.Value.Address, new GrpcChannelOptions
        {
            HttpHandler = tls.Value.CreatePeerHandler(),
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(100),
            MaxReconnectBackoff = TimeSpan.FromSeconds(2),
        });
        client = new Trainer.TrainerClient(channel);
        pipeline = pipelines.GetPipeline(PipelineName);
        var token = options.Value.ResolveToken();
        headers = token.Length == 0 ? [] : new Metadata { { "authorization", $"Bearer {token}" } };
    }

    public static void ConfigurePipeline(ResiliencePipelineBuilder builder, SidecarOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var transient = new PredicateBuilder()
            .Handle<RpcException>(ex => ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
            .Handle<TimeoutRejectedException>();
        builder
            .AddRetry(new RetryStrategyOptions { ShouldHandle = transient, MaxRetryAttempts = options.Retries, BackoffType = DelayBackoffType.Exponential, UseJitter = true, Delay = TimeSpan.FromMilliseconds(100) })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions { ShouldHandle = transient, FailureRatio = 0.5, MinimumThroughput = 4, SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = options.BreakDuration })
            .AddTimeout(options.Timeout);
    }

    /// <summary>Queues a run; every attempt carries the same request id (the caller's, else a new one), so a retry returns the run the first attempt queued.</summary>
    public Task<Run> StartRunAsync(StartRunRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestId.Length == 0)
        {
            request = new StartRunRequest(request) { RequestId = NewRequestId() };
        }

        return CallAsync(token => client.StartRunAsync(request, headers, cancellationToken: token).ResponseAsync, cancellationToken);
    }

    public Task<TrainerStatus> GetStatusAsync(CancellationToken cancellationToken) =>
        CallAsync(token => client.GetStatusAsync(new GetStatusRequest(), headers, cancellationToken: token).ResponseAsync, cancellationToken);

    /// <summary>Stores labelled examples; every attempt carries the same request id (the caller's, else a new one), so a retry stores nothing twice.</summary>
    public Task<SubmitExamplesResponse> SubmitExamplesAsync(SubmitExamplesRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.RequestId.Length == 0)
        {
            request = new SubmitExamplesRequest(request) { RequestId = NewRequestId() };
        }

        return CallAsync(token => client.SubmitExamplesAsync(request, headers, cancellationToken: token).ResponseAsync, cancellationToken);
    }

    private static string NewRequestId() => "admin-" + Guid.NewGuid().ToString("N");

    /// <summary>A stream is not retried mid-way; opening it fails fast like the other calls.</summary>
    public AsyncServerStreamingCall<RunEvent> WatchRun(WatchRunRequest request, CancellationToken cancellationToken) =>
        client.WatchRun(request, headers, cancellationToken: cancellationToken);

    public void Dispose() => channel.Dispose();

    private async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await pipeline.ExecuteAsync(
                async token =>
                {
                    try
                    {
                        return await call(token);
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && token.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException(token);
                    }
                },
                cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutRejectedException or BrokenCircuitException || ex is RpcException { StatusCode: StatusCode.Unavailable or StatusCode.DeadlineExceeded })
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"the trainer sidecar is unreachable ({ex.Message}); serving is unaffected"));
        }
    }
}
