using System.Diagnostics;
using Grpc.Core;
using HardPair.Hosting.Rpc;
using HardPair.InferenceService.Admission;
using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Input;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Signals;
using HardPair.Protos.V1;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.Services;

/// <summary>Classify, ClassifyBatch, ClassifyStream and GetModelInfo: validate, queue, answer with signals.</summary>
public sealed class ClassifierService(ModelHost host, InferenceBatcher batcher, RobustnessProber prober, ClientRateLimiter rateLimiter, InferenceMetrics metrics, IOptions<InferenceOptions> options) : Classifier.ClassifierBase
{
    private readonly InferenceOptions settings = options.Value;

    public override Task<ClassifyResponse> Classify(ClassifyRequest request, ServerCallContext context) =>
        Measured("Classify", context, () => ClassifyOneAsync(request, "", context));

    public override Task<ClassifyBatchResponse> ClassifyBatch(ClassifyBatchRequest request, ServerCallContext context) =>
        Measured("ClassifyBatch", context, async () =>
        {
            var model = CurrentModel();
            var violations = new RequestViolations();
            if (request.Requests.Count == 0 || request.Requests.Count > settings.MaxRequestsPerBatchCall)
            {
                violations.Add("requests", $"must hold 1 to {settings.MaxRequestsPerBatchCall} requests, not {request.Requests.Count}");
                violations.ThrowIfAny();
            }

            rateLimiter.Admit(context, request.Requests.Count);

            var inputs = request.Requests.Select((r, i) => Validate(r, model, $"requests[{i}].", violations)!).ToList();
            violations.ThrowIfAny();

            // One call in the batcher: all its images are answered by one model version.
            var results = await batcher.InferAsync(inputs, model, context.CancellationToken);
            var answers = await Task.WhenAll(results.Select((result, i) => RespondAsync(request.Requests[i], inputs[i], result, context)));
            return new ClassifyBatchResponse { Responses = { answers } };
        });

    public override async Task ClassifyStream(IAsyncStreamReader<ClassifyRequest> requestStream, IServerStreamWriter<ClassifyResponse> responseStream, ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            var response = await Measured("ClassifyStream", context, () => ClassifyOneAsync(request, "", context));
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }

    public override Task<ModelInfo> GetModelInfo(GetModelInfoRequest request, ServerCallContext context) =>
        Task.FromResult(ModelInfoMapper.From(CurrentModel()));

    private async Task<ClassifyResponse> ClassifyOneAsync(ClassifyRequest request, string prefix, ServerCallContext context)
    {
        rateLimiter.Admit(context, 1);
        var model = CurrentModel();
        var violations = new RequestViolations();
        var pixels = Validate(request, model, prefix, violations);
        violations.ThrowIfAny();
        var result = await batcher.InferAsync(pixels!, model, context.CancellationToken);
        return await RespondAsync(request, pixels!, result, context);
    }

    private float[]? Validate(ClassifyRequest request, ModelDescription model, string prefix, RequestViolations violations)
    {
        if (request.TopK < 0 || request.TopK > model.ClassNames.Count)
        {
            violations.Add($"{prefix}top_k", $"must lie in [0, {model.ClassNames.Count}], not {request.TopK}");
        }

        if (request.RequestId.Length > 200)
        {
            violations.Add($"{prefix}request_id", "must be at most 200 characters");
        }

        return ImageInput.Read(request.Image, model.InputShape, $"{prefix}image", violations);
    }

    private async Task<ClassifyResponse> RespondAsync(ClassifyRequest request, float[] pixels, InferenceResult result, ServerCallContext context)
    {
        var response = SignalBuilder.Build(result, request.TopK == 0 ? settings.DefaultTopK : request.TopK, settings);
        response.RequestId = request.RequestId;
        if (response.HardPair.Ambiguous)
        {
            metrics.Ambiguous(response.HardPair.First.ClassName, response.HardPair.Second.ClassName);
        }

        if (request.RobustnessProbe)
        {
            response.Robustness = await prober.ProbeAsync(pixels, response.Label, result.Model, context.CancellationToken);
        }

        return response;
    }

    private ModelDescription CurrentModel() =>
        host.Current ?? throw new RpcException(new Status(StatusCode.Unavailable, "no model is loaded yet; retry shortly"));

    /// <summary>Maps the batcher's refusals to status codes and records every call's outcome and latency.</summary>
    private async Task<T> Measured<T>(string method, ServerCallContext context, Func<Task<T>> call)
    {
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
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            status = context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;
            throw new RpcException(new Status(status, status == StatusCode.DeadlineExceeded ? "the deadline passed before the image was computed" : "cancelled by the caller"));
        }
        finally
        {
            metrics.Request(method, status, clock.Elapsed);
        }
    }
}
