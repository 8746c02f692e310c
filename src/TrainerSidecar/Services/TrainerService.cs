using Grpc.Core;
using HardPair.Hosting.Rpc;
using HardPair.ML.Objectives;
using HardPair.ML.Recipes;
using HardPair.ML.Torch;
using HardPair.Protos.V1;
using HardPair.Storage.Data;
using HardPair.TrainerSidecar.Feedback;
using HardPair.TrainerSidecar.Runs;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Services;

/// <summary>
/// The control API: validates, then hands over to the runs (<see cref="IRunControl"/>: the
/// coordinator on the replica that leads training, the shared state folder on the others) and to
/// the feedback log.
/// </summary>
public sealed class TrainerService(IRunControl runs, FeedbackLog feedback, Storage.Checkpoints.CheckpointStore checkpoints, Leadership.TrainingLeadership leadership, IOptions<DataOptions> data) : Trainer.TrainerBase
{
    public const int MaxExamplesPerCall = 4096;

    /// <summary>Feedback labels index the training dataset's classes.</summary>
    private readonly int classes = DatasetCatalog.ClassNames(data.Value.Dataset).Count;

    public override Task<Run> StartRun(StartRunRequest request, ServerCallContext context)
    {
        var validation = new RequestViolations();
        if (request.Method.Length > 0 && request.Method != Options.TrainerOptions.ServingMethod && !TrainingObjectives.Names.Contains(request.Method))
        {
            validation.Add("method", $"must be one of {string.Join(", ", TrainingObjectives.Names)}, or {Options.TrainerOptions.ServingMethod} (the serving checkpoint's), or empty for the default");
        }

        foreach (var (name, value) in request.HyperParameters)
        {
            if (HyperParameters.Find(name) is not { } parameter)
            {
                validation.Add($"hyper_parameters[{name}]", $"unknown; known: {string.Join(", ", HyperParameters.All.Select(p => p.Name))}");
            }
            else if (!parameter.Accepts(value))
            {
                validation.Add($"hyper_parameters[{name}]", parameter == HyperParameters.Schedule
                    ? "must be 0 (step), 1 (cosine) or 2 (one-cycle)"
                    : $"must lie in [{parameter.Min}, {parameter.Max}]{(parameter.Integral ? ", a whole number" : "")}");
            }
        }

        if (request.Data is { } data)
        {
            if (data.TrainSubset < 0)
            {
                validation.Add("data.train_subset", "must be 0 (the configured budget) or positive");
            }

            if (data.Seed < 0)
            {
                validation.Add("data.seed", "must be 0 (the configured seed) or positive");
            }
        }

        if (request.Reason.Length > 1000)
        {
            validation.Add("reason", "must be at most 1000 characters");
        }

        if (request.RequestId.Length > 128)
        {
            validation.Add("request_id", "must be at most 128 characters");
        }

        validation.ThrowIfAny();
        return Task.FromResult(runs.Start(request).ToContract());
    }

    public override Task<Run> GetRun(GetRunRequest request, ServerCallContext context)
    {
        var runId = RequireRunId(request.RunId);
        return Task.FromResult((runs.Get(runId) ?? throw RequestViolations.NotFound($"no run '{runId}'")).ToContract());
    }

    public override Task<ListRunsResponse> ListRuns(ListRunsRequest request, ServerCallContext context)
    {
        if (request.Limit < 0)
        {
            var validation = new RequestViolations();
            validation.Add("limit", "must be 0 (50) or positive");
            validation.ThrowIfAny();
        }

        var limit = request.Limit == 0 ? 50 : Math.Min(request.Limit, 10_000);
        return Task.FromResult(new ListRunsResponse { Runs = { runs.List(limit).Select(r => r.ToContract()) } });
    }

    public override Task<Run> CancelRun(CancelRunRequest request, ServerCallContext context)
    {
        var runId = RequireRunId(request.RunId);
        const string reason = "cancelled by an operator";
        return Task.FromResult((runs.Cancel(runId, reason) ?? throw RequestViolations.NotFound($"no run '{runId}'")).ToContract());
    }

    public override async Task WatchRun(WatchRunRequest request, IServerStreamWriter<RunEvent> responseStream, ServerCallContext context)
    {
        var runId = RequireRunId(request.RunId);
        if (runs.Get(runId) is null)
        {
            throw RequestViolations.NotFound($"no run '{runId}'");
        }

        await foreach (var item in runs.WatchAsync(runId, context.CancellationToken))
        {
            await responseStream.WriteAsync(item.ToContract(), context.CancellationToken);
        }
    }

    public override async Task<SubmitExamplesResponse> SubmitExamples(SubmitExamplesRequest request, ServerCallContext context)
    {
        var validation = new RequestViolations();
        if (request.Examples.Count == 0)
        {
            validation.Add("examples", "at least one example is needed");
        }
        else if (request.Examples.Count > MaxExamplesPerCall)
        {
            validation.Add("examples", $"at most {MaxExamplesPerCall} examples per call");
        }

        var inputShape = feedback.Shape;
        for (var i = 0; i < request.Examples.Count && i < MaxExamplesPerCall; i++)
        {
            var example = request.Examples[i];
            if (example.Pixels.Length != inputShape.Elements)
            {
                validation.Add($"examples[{i}].pixels", $"must hold {inputShape.Elements} bytes ({inputShape} uint8), not {example.Pixels.Length}");
            }

            if (example.Label < 0 || example.Label >= classes)
            {
                validation.Add($"examples[{i}].label", $"must lie in [0, {classes - 1}], not {example.Label}");
            }
        }

        if (request.Source.Length > 200)
        {
            validation.Add("source", "must be at most 200 characters");
        }

        if (request.RequestId.Length > 128)
        {
            validation.Add("request_id", "must be at most 128 characters");
        }

        validation.ThrowIfAny();
        var requestId = request.RequestId.Length > 0 ? request.RequestId : Guid.NewGuid().ToString("N");
        var stored = await feedback.AppendAsync([.. request.Examples.Select(e => (e.Pixels.ToByteArray(), e.Label))], request.Source, requestId, context.CancellationToken);
        return new SubmitExamplesResponse { Accepted = stored.Accepted, TotalExamples = stored.Total, Duplicate = stored.Duplicate };
    }

    public override Task<TrainerStatus> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var (queued, current, published, nextCycleAt) = runs.Overview();
        var status = new TrainerStatus
        {
            Device = TorchRuntime.Current?.Device ?? "not started",
            Continuous = nextCycleAt is not null,
            QueuedRuns = { queued.Select(r => r.ToContract()) },
            FeedbackExamples = feedback.Count,
            Leader = leadership.IsLeader,
            LeaderIdentity = leadership.Leader,
            ServingVersion = checkpoints.Serving()?.Version ?? "",
        };
        if (current is not null)
        {
            status.CurrentRun = current.ToContract();
        }

        if (nextCycleAt is { } next)
        {
            status.NextCycleAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(next);
        }

        if (published is not null)
        {
            status.LastPublishedVersion = published.PublishedVersion;
            status.LastPublishedAt = published.FinishedAt is { } finished ? Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(finished) : null;
        }

        return Task.FromResult(status);
    }

    private static string RequireRunId(string runId)
    {
        if (string.IsNullOrWhiteSpace(runId))
        {
            var validation = new RequestViolations();
            validation.Add("run_id", "is required");
            validation.ThrowIfAny();
        }

        return runId;
    }
}
