using Grpc.Core;
using HardPair.Hosting.Rpc;
using HardPair.InferenceService.Input;
using HardPair.InferenceService.Models;
using HardPair.Protos.V1;

namespace HardPair.InferenceService.Services;

/// <summary>Classify, ClassifyBatch, ClassifyStream and GetModelInfo: validate, queue, answer with signals.</summary>
public sealed class ClassifierService(InferenceCalls calls) : Classifier.ClassifierBase
{
    public override Task<ClassifyResponse> Classify(ClassifyRequest request, ServerCallContext context) =>
        calls.Measured("Classify", context, () => ClassifyOneAsync(request, "", context));

    public override Task<ClassifyBatchResponse> ClassifyBatch(ClassifyBatchRequest request, ServerCallContext context) =>
        calls.Measured("ClassifyBatch", context, async () =>
        {
            var model = calls.CurrentModel();
            var violations = new RequestViolations();
            var limit = calls.Settings.MaxRequestsPerBatchCall;
            if (request.Requests.Count == 0 || request.Requests.Count > limit)
            {
                violations.Add("requests", $"must hold 1 to {limit} requests, not {request.Requests.Count}");
                violations.ThrowIfAny();
            }

            calls.Admit(context.GetHttpContext(), request.Requests.Count);

            var inputs = request.Requests.Select((r, i) => Validate(r, model, $"requests[{i}].", violations)!).ToList();
            violations.ThrowIfAny();

            // One call in the batcher: all its images are answered by one model version.
            var results = await calls.InferAsync(inputs, model, context.CancellationToken);
            var answers = await Task.WhenAll(results.Select((result, i) => RespondAsync(request.Requests[i], inputs[i], result, context)));
            return new ClassifyBatchResponse { Responses = { answers } };
        });

    public override async Task ClassifyStream(IAsyncStreamReader<ClassifyRequest> requestStream, IServerStreamWriter<ClassifyResponse> responseStream, ServerCallContext context)
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            var response = await calls.Measured("ClassifyStream", context, () => ClassifyOneAsync(request, "", context));
            await responseStream.WriteAsync(response, context.CancellationToken);
        }
    }

    public override Task<ModelInfo> GetModelInfo(GetModelInfoRequest request, ServerCallContext context) =>
        Task.FromResult(ModelInfoMapper.From(calls.CurrentModel()));

    private async Task<ClassifyResponse> ClassifyOneAsync(ClassifyRequest request, string prefix, ServerCallContext context)
    {
        calls.Admit(context.GetHttpContext(), 1);
        var model = calls.CurrentModel();
        var violations = new RequestViolations();
        var pixels = Validate(request, model, prefix, violations);
        violations.ThrowIfAny();
        var results = await calls.InferAsync([pixels!], model, context.CancellationToken);
        return await RespondAsync(request, pixels!, results[0], context);
    }

    private static float[]? Validate(ClassifyRequest request, ModelDescription model, string prefix, RequestViolations violations)
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

    private async Task<ClassifyResponse> RespondAsync(ClassifyRequest request, float[] pixels, Batching.InferenceResult result, ServerCallContext context)
    {
        var response = await calls.AnswerAsync(pixels, result, request.TopK == 0 ? calls.Settings.DefaultTopK : request.TopK, request.RobustnessProbe, context.CancellationToken);
        response.RequestId = request.RequestId;
        return response;
    }
}
