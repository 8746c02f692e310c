using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Hosting;
using HardPair.Protos.V1;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Timeout;

namespace HardPair.TrainerSidecar.Publishing;

/// <summary>Tells the inference service that a checkpoint was published. Best effort: the service also watches the store.</summary>
public interface ICheckpointNotifier
{
    /// <summary>True when the inference service acknowledged; false when it could not be reached (logged, never thrown).</summary>
    bool Notify(string version, CancellationToken cancellationToken);
}

/// <summary>
/// Calls <c>Admin.NotifyCheckpoint</c> on the inference service through a Polly pipeline: a
/// timeout per attempt, retries with jittered exponential back-off on transient status codes, and
/// a circuit breaker so a service that is down is not hammered after every publish.
/// </summary>
public sealed partial class CheckpointNotifier : ICheckpointNotifier, IDisposable
{
    public const string PipelineName = "notify-inference";

    private readonly GrpcChannel? channel;
    private readonly Admin.AdminClient? client;
    private readonly ResiliencePipeline pipeline;
    private readonly NotifyOptions options;
    private readonly ILogger<CheckpointNotifier> logger;

    public CheckpointNotifier(IOptions<NotifyOptions> options, IOptions<TlsOptions> tls, ResiliencePipelineProvider<string> pipelines, ILogger<CheckpointNotifier> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(pipelines);
        this.options = options.Value;
        pipeline = pipelines.GetPipeline(PipelineName);
        this.logger = logger;
        if (!string.IsNullOrWhiteSpace(this.options.InferenceAddress))
        {
            // An https admin port must present a certificate of the deployment's CA; ours goes along (mTLS).
            channel = GrpcChannel.ForAddress(this.options.InferenceAddress, new GrpcChannelOptions { HttpHandler = tls.Value.CreatePeerHandler() });
            client = new Admin.AdminClient(channel);
        }
    }

    /// <summary>Retry with jitter (outermost), circuit breaker, then a timeout per attempt.</summary>
    public static void ConfigurePipeline(ResiliencePipelineBuilder builder, NotifyOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var transient = new PredicateBuilder()
            .Handle<RpcException>(ex => ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Internal or StatusCode.Unknown)
            .Handle<TimeoutRejectedException>();
        builder
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = 1.0,
                MinimumThroughput = options.BreakerMinimumThroughput,
                SamplingDuration = options.BreakerSamplingDuration,
                BreakDuration = options.BreakDuration,
            })
            .AddTimeout(options.AttemptTimeout);
    }

    public bool Notify(string version, CancellationToken cancellationToken)
    {
        if (client is null)
        {
            return false;
        }

        try
        {
            pipeline.Execute(
                static (state, token) =>
                {
                    try
                    {
                        return state.client.NotifyCheckpoint(new NotifyCheckpointRequest { Version = state.version }, headers: state.headers, cancellationToken: token);
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && token.IsCancellationRequested)
                    {
                        // The pipeline's timeout cancelled this attempt: report it as a cancellation
                        // so the timeout strategy turns it into a retryable TimeoutRejectedException.
                        throw new OperationCanceledException(token);
                    }
                },
                (client, version, headers: Headers(options.ResolveToken())),
                cancellationToken);
            LogNotified(logger, version);
            return true;
        }
        catch (Exception ex) when (ex is RpcException or TimeoutRejectedException or BrokenCircuitException)
        {
            LogNotifyFailed(logger, version, ex.Message);
            return false;
        }
    }

    public void Dispose() => channel?.Dispose();

    private static Metadata Headers(string? token) => string.IsNullOrEmpty(token) ? [] : new Metadata { { "authorization", $"Bearer {token}" } };

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference service notified of {Version}")]
    private static partial void LogNotified(ILogger logger, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not notify the inference service of {Version} ({Reason}); it will find the checkpoint by watching the store")]
    private static partial void LogNotifyFailed(ILogger logger, string version, string reason);
}
