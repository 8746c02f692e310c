using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using HardPair.Hosting.Rpc;
using HardPair.InferenceService.Models;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;

namespace HardPair.InferenceService.Services;

/// <summary>The admin API: model management here, retraining forwarded to the sidecar.</summary>
public sealed class AdminService(ModelCatalog catalog, ModelHost host, SidecarForwarder sidecar) : Admin.AdminBase
{
    /// <summary>
    /// Rescans the store now (one scan); a named version must be a valid id (INVALID_ARGUMENT)
    /// that the store holds after the scan (NOT_FOUND). An empty version just rescans.
    /// </summary>
    public override async Task<NotifyCheckpointResponse> NotifyCheckpoint(NotifyCheckpointRequest request, ServerCallContext context)
    {
        if (request.Version.Length > 0 && !CheckpointStore.IsValidVersionId(request.Version))
        {
            var violations = new RequestViolations();
            violations.Add("version", "is not a version id (1-128 characters of A-Z a-z 0-9 . _ -, not starting with a dot)");
            violations.ThrowIfAny();
        }

        // One scan of the store: the refresh's own listing (or, when a pin made it needless, one
        // listing here) answers whether the version is there.
        var listed = await catalog.RefreshAsync(context.CancellationToken);
        var versions = listed?.Select(e => e.Version) ?? catalog.List().Select(m => m.Version);
        if (request.Version.Length > 0 && !versions.Contains(request.Version, StringComparer.Ordinal))
        {
            throw RequestViolations.NotFound($"the store holds no checkpoint {request.Version}");
        }

        return new NotifyCheckpointResponse { ServingVersion = host.Current?.Version ?? "" };
    }

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var response = new ListModelsResponse { ServingVersion = host.Current?.Version ?? "", PinnedVersion = catalog.PinnedVersion ?? "" };
        response.Models.AddRange(catalog.List().Select(m =>
        {
            var robust = m.Manifest?.Metrics.RobustSummary;
            return new ModelVersion
            {
                Version = m.Version,
                State = m.State switch { Models.ModelState.Serving => Protos.V1.ModelState.Serving, Models.ModelState.Refused => Protos.V1.ModelState.Refused, _ => Protos.V1.ModelState.Available },
                Detail = m.Reason ?? "",
                ParentVersion = m.Manifest?.ParentVersion ?? "",
                TrainingMethod = m.Manifest?.Training.Method ?? "",
                CleanAccuracy = m.Manifest?.Metrics.CleanAccuracy ?? 0,
                RobustAccuracy = robust?.Accuracy ?? 0,
                RobustAttack = robust?.Attack ?? "",
                RobustExamples = robust?.Examples ?? 0,
                RobustWorstCase = robust?.WorstCase ?? false,
                HardPairShare = m.Manifest?.Metrics.HardPairShare ?? 0,
                CreatedAt = m.Manifest is null ? null : Timestamp.FromDateTimeOffset(m.Manifest.CreatedAt),
            };
        }));
        return Task.FromResult(response);
    }

    public override async Task<ActivateModelResponse> ActivateModel(ActivateModelRequest request, ServerCallContext context)
    {
        var activation = await catalog.ActivateAsync(request.Version, request.Pin, context.CancellationToken);
        return activation.Outcome switch
        {
            ActivationOutcome.Serving => new ActivateModelResponse { ServingVersion = host.Current?.Version ?? "", Detail = activation.Detail },
            ActivationOutcome.NotFound => throw RequestViolations.NotFound(activation.Detail),
            _ => throw new RpcException(new Status(StatusCode.FailedPrecondition, $"{activation.Detail}; still serving {host.Current?.Version ?? "nothing"}")),
        };
    }

    public override Task<Run> TriggerRetraining(StartRunRequest request, ServerCallContext context) =>
        sidecar.StartRunAsync(request, context.CancellationToken);

    public override Task<TrainerStatus> GetTrainingStatus(GetStatusRequest request, ServerCallContext context) =>
        sidecar.GetStatusAsync(context.CancellationToken);

    public override Task<SubmitExamplesResponse> SubmitLabeledExamples(SubmitExamplesRequest request, ServerCallContext context) =>
        sidecar.SubmitExamplesAsync(request, context.CancellationToken);

    public override async Task WatchTraining(WatchRunRequest request, IServerStreamWriter<RunEvent> responseStream, ServerCallContext context)
    {
        try
        {
            using var call = sidecar.WatchRun(request, context.CancellationToken);
            await foreach (var item in call.ResponseStream.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(item, context.CancellationToken);
            }
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"the trainer sidecar is unreachable ({ex.Status.Detail}); serving is unaffected"));
        }
    }
}
