using System.Diagnostics;
using Grpc.Core;
using HardPair.InferenceService.Admission;
using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Signals;
using HardPair.Protos.V1;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.Services;

/// <summary>
/// The one path every protocol's classification takes (<c>hardpair.v1</c>, the Open Inference
/// Protocol over gRPC and over REST): the serving model, per-client admission, the batcher (so a
/// call's images are answered by one version), the response's signals and optional robustness
/// probe, and the outcome of every call in the metrics. The protocols differ only in how they
/// read images and write answers.
/// </summary>
public sealed class InferenceCalls(ModelHost host, InferenceBatcher batcher, RobustnessProber prober, ClientRateLimiter rateLimiter, InferenceMetrics metrics, IOptions<InferenceOptions> options)
{
    public InferenceOptions Settings { get; } = options.Value;

    /// <summary>The serving model, or UNAVAILABLE when none is loaded yet.</summary>
    public ModelDescription CurrentModel() =>
        host.Current ?? throw new RpcException(new Status(StatusCode.Unavailable, "no model is loaded yet; retry shortly"));

    /// <summary>Takes <paramref name="images"/> permits from the calling client's bucket, or refuses the call (RESOURCE_EXHAUSTED).</summary>
    public void Admit(HttpContext http, int images) => rateLimiter.Admit(http, images);

    /// <summary>Queues validated images and waits for their answers, in order, all from one model version.</summary>
    public Task<IReadOnlyList<InferenceResult>> InferAsync(IReadOnlyList<float[]> images, ModelDescription model, CancellationToken cancellationToken) =>
        batcher.InferAsync(images, model, cancellationToken);

    /// <summary>One image's answer: label, calibrated confidence, the <paramref name="topK"/> most likely classes, the hard-pair signal and, when asked, the robustness probe.</summary>
    public async Task<ClassifyResponse> AnswerAsync(float[] pixels, InferenceResult result, int topK, bool probe, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        var response = SignalBuilder.Build(result, topK, Settings);
        if (response.HardPair.Ambiguous)
        {
            metrics.Ambiguous(response.HardPair.First.ClassName, response.HardPair.Second.ClassName);
        }

        if (probe)
        {
            response.Robustness = await prober.ProbeAsync(pixels, response.Label, result.Model, cancellationToken);
        }

        return response;
    }

    /// <summary>Maps the batcher's refusals to status codes and records every call's outcome and latency under <paramref name="method"/>.</summary>
    public Task<T> Measured<T>(string method, ServerCallContext context, Func<Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Measured(method, context.Deadline, context.CancellationToken, call);
    }

    /// <inheritdoc cref="Measured{T}(string, ServerCallContext, Func{Task{T}})"/>
    public async Task<T> Measured<T>(string method, DateTime deadline, CancellationToken cancellationToken, Func<Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var clock = Stopwatch.StartNew();
        var status = StatusCode.OK;
        try
        {
            return await call();
        }
        catch (RpcException ex)
        {
            status = ex.StatusCode;
            throw;
        }
        catch (QueueFullException ex)
        {
            status = StatusCode.ResourceExhausted;
            throw new RpcException(new Status(status, $"{ex.Message}; retry with back-off"));
        }
        catch (NoModelException ex)
        {
            status = StatusCode.Unavailable;
            throw new RpcException(new Status(status, ex.Message));
        }
        catch (ModelChangedException ex)
        {
            status = StatusCode.Aborted;
            throw new RpcException(new Status(status, ex.Message));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            status = deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
            throw new RpcException(new Status(status, status == StatusCode.DeadlineExceeded ? "the deadline passed before the image was computed" : "cancelled by the caller"));
        }
        finally
        {
            metrics.Request(method, status, clock.Elapsed);
        }
    }
}
