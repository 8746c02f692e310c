using Grpc.Core;
using HardPair.InferenceService.Services;
using HardPair.Protos.Inference;

namespace HardPair.InferenceService.OpenInference;

/// <summary>
/// <c>inference.GRPCInferenceService</c>, the Open Inference Protocol over gRPC, on the main port
/// beside <c>hardpair.v1</c>; with Triton's <c>ModelStreamInfer</c> and <c>ModelConfig</c> bound
/// under the same service name (<see cref="Bind"/>), since their messages live in a proto of their own.
/// </summary>
[BindServiceMethod(typeof(OpenInferenceService), nameof(Bind))]
public sealed class OpenInferenceService(OpenInferenceModel model, InferenceCalls calls) : GRPCInferenceService.GRPCInferenceServiceBase
{
    private const string ServiceName = "inference.GRPCInferenceService";

    private static readonly Method<ModelInferRequest, ModelStreamInferResponse> StreamMethod = new(
        MethodType.DuplexStreaming, ServiceName, nameof(ModelStreamInfer), Marshaller(ModelInferRequest.Parser), Marshaller(ModelStreamInferResponse.Parser));

    private static readonly Method<ModelConfigRequest, ModelConfigResponse> ConfigMethod = new(
        MethodType.Unary, ServiceName, nameof(ModelConfig), Marshaller(ModelConfigRequest.Parser), Marshaller(ModelConfigResponse.Parser));

    /// <summary>The specification's six methods, then Triton's two (grpc-dotnet finds each handler by its method's name).</summary>
    public static void Bind(ServiceBinderBase binder, OpenInferenceService? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        GRPCInferenceService.BindService(binder, service);
        binder.AddMethod(StreamMethod, service is null ? null : service.ModelStreamInfer);
        binder.AddMethod(ConfigMethod, service is null ? null : service.ModelConfig);
    }

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

    /// <summary>Triton's stream: one response or one error message per request, in order; an error ends only that request.</summary>
    public async Task ModelStreamInfer(IAsyncStreamReader<ModelInferRequest> requestStream, IServerStreamWriter<ModelStreamInferResponse> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(requestStream);
        ArgumentNullException.ThrowIfNull(responseStream);
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            ModelStreamInferResponse answer;
            try
            {
                var response = await calls.Measured("ModelStreamInfer", context, () => model.InferAsync(request, context.GetHttpContext(), context.CancellationToken));
                answer = new ModelStreamInferResponse { InferResponse = response };
            }
            catch (RpcException ex) when (!context.CancellationToken.IsCancellationRequested)
            {
                answer = new ModelStreamInferResponse { ErrorMessage = $"{ex.StatusCode}: {ex.Status.Detail}", InferResponse = new ModelInferResponse { Id = request.Id, ModelName = request.ModelName } };
            }

            await responseStream.WriteAsync(answer, context.CancellationToken);
        }
    }

    public Task<ModelConfigResponse> ModelConfig(ModelConfigRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(new ModelConfigResponse { Config = model.ModelConfig(request.Name, request.Version) });
    }

    private static Marshaller<T> Marshaller<T>(Google.Protobuf.MessageParser<T> parser)
        where T : Google.Protobuf.IMessage<T> =>
        Marshallers.Create(message => Google.Protobuf.MessageExtensions.ToByteArray(message), parser.ParseFrom);
}
