using Grpc.Core;
using HardPair.InferenceService.OpenInference;
using HardPair.Protos.Inference;

namespace HardPair.InferenceService.Services;

/// <summary><c>inference.GRPCInferenceService</c>, the Open Inference Protocol over gRPC, on the main port beside <c>hardpair.v1</c>.</summary>
public sealed class OpenInferenceService(OpenInferenceModel model, InferenceCalls calls) : GRPCInferenceService.GRPCInferenceServiceBase
{
    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = model.ServerReady });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = model.ModelReady(request.Name, request.Version) });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(OpenInferenceModel.ServerMetadata());

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(model.ModelMetadata(request.Name, request.Version));

    public override Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context) =>
        calls.Measured("ModelInfer", context, () => model.InferAsync(request, context.GetHttpContext(), context.CancellationToken));
}
