using Grpc.Core;
using HardPair.Hosting.Rpc;
using HardPair.ML.Objectives;
using HardPair.ML.Torch;
using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Feedback;
using HardPair.TrainerSidecar.Runs;

namespace HardPair.TrainerSidecar.Services;

/// <summary>
/// The control API: validates, then hands over to the coordinator and the feedback log — or, on a
/// replica that does not lead training, to <see cref="FollowerRuns"/>, which answers from the
/// shared state folder and leaves new runs and cancellations there for the leader.
/// </summary>
public sealed class TrainerService(RunCoordinator coordinator, FollowerRuns followers, FeedbackLog feedback, Storage.Checkpoints.CheckpointStore checkpoints, Leadership.TrainingLeadership leadership) : Trainer.TrainerBase
{
    public const int MaxExamplesPerCall = 4096;
    private const int Classes = 10;

    /// <summary>Overridable hyper-parameters and their accepted ranges.</summary>
    private static readonly Dictionary<string, (double Min, double Max)> HyperParameterRanges = new(StringComparer.Ordinal)
    {
        ["epsilon"] = (0, 1),
        ["attackSteps"] = (1, 1000),
        ["attackStepSize"] = (1e-6, 1),
        ["beta"] = (0, 1000),
        ["scale"] = (1e-3, 1000),
        ["margin"] = (0, 10),
        ["consistencyWeight"] = (0, 100),
        ["detachWeights"] = (0, 1),
        ["clampWeights"] = (0, 1),
        ["partnerMargin"] = (0, 10),
        ["partnerAttackShare"] = (0, 1),
        ["learningRate"] = (1e-6, 10),
        ["weightDecay"] = (0, 1),
        ["schedule"] = (0, 2),
        ["ema"] = (0, 0.99999),
        ["batchSize"] = (1, 4096),
        ["epochs"] = (0.01, 1000),
        ["dataSeed"] = (0, int.MaxValue),
    };

    public override Task<Run> StartRun(StartRunRequest request, ServerCallContext context)
    {
        var validation = new RequestViolations();
        if (request.Method.Length > 0 && request.Method != Options.TrainerOptions.ServingMethod && !TrainingObjectives.Names.Contains(request.Method))
        {
            validation.Add("method", $"must be one of {string.Join(", ", TrainingObjectives.Names)}, or {Options.TrainerOptions.ServingMethod} (the serving checkpoint's), or empty for the default");
        }

        foreach (var (name, value) in request.HyperParameters)
        {
            if (!HyperParameterRanges.TryGetValue(name, out var range))
            {
                validation.Add($"hyper_parameters[{name}]", $"unknown; known: {string.Join(", ", HyperParameterRanges.Keys)}");
            }
            else if (!double.IsFinite(value) || value < range.Min || value > range.Max)
            {
                validation.Add($"hyper_parameters[{name}]", $"must lie in [{range.Min}, {range.Max}]");
            }
            else if (name == "schedule" && value != Math.Floor(value))
            {
                validation.Add($"hyper_parameters[{name}]", "must be 0 (step), 1 (cosine) or 2 (one-cycle)");
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
        return Task.FromResult(Leads ? coordinator.Start(request, RunTrigger.Operator) : followers.Start(request));
    }

    public override Task<Run> GetRun(GetRunRequest request, ServerCallContext context)
    {
        var runId = RequireRunId(request.RunId);
        return Task.FromResult((Leads ? LeadersRun(runId) : followers.Get(runId)) ?? throw RequestViolations.NotFound($"no run '{runId}'"));
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
        return Task.FromResult(new ListRunsResponse { Runs = { Leads ? coordinator.List(limit) : followers.List(limit) } });
    }

    public override Task<Run> CancelRun(CancelRunRequest request, ServerCallContext context)
    {
        var runId = RequireRunId(request.RunId);
        const string reason = "cancelled by an operator";
        var run = Leads ? (LeadersRun(runId) is null ? null : coordinator.Cancel(runId, reason)) : followers.Cancel(runId, reason);
        return Task.FromResult(run ?? throw RequestViolations.NotFound($"no run '{runId}'"));
    }

    public override async Task WatchRun(WatchRunRequest request, IServerStreamWriter<RunEvent> responseStream, ServerCallContext context)
    {
        var runId = RequireRunId(request.RunId);
        var leads = Leads;
        if ((leads ? LeadersRun(runId) : followers.Get(runId)) is null)
        {
            throw RequestViolations.NotFound($"no run '{runId}'");
        }

        var events = leads ? coordinator.WatchAsync(runId, context.CancellationToken) : followers.WatchAsync(runId, context.CancellationToken);
        await foreach (var item in events)
        {
            await responseStream.WriteAsync(item, context.CancellationToken);
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

            if (example.Label is < 0 or >= Classes)
            {
                validation.Add($"examples[{i}].label", $"must lie in [0, {Classes - 1}], not {example.Label}");
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
        var leads = Leads;
        var (queued, current, published) = leads
            ? (coordinator.Queued(), coordinator.CurrentRunId is { } id ? coordinator.Get(id) : null, coordinator.List(10_000).FirstOrDefault(r => r.PublishedVersion.Length > 0))
            : followers.Overview();
        var status = new TrainerStatus
        {
            Device = TorchRuntime.Current?.Device ?? "not started",
            Continuous = leads && coordinator.NextCycleAt is not null,
            QueuedRuns = { queued },
            FeedbackExamples = feedback.Count,
            Leader = leadership.IsLeader,
            LeaderIdentity = leadership.Leader,
            ServingVersion = checkpoints.Serving()?.Version ?? "",
        };
        if (current is not null)
        {
            status.CurrentRun = current;
        }

        if (leads && coordinator.NextCycleAt is { } next)
        {
            status.NextCycleAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(next);
        }

        if (published is not null)
        {
            status.LastPublishedVersion = published.PublishedVersion;
            status.LastPublishedAt = published.FinishedAt;
        }

        return Task.FromResult(status);
    }

    /// <summary>Whether this sidecar's coordinator holds the runs (always without leader election).</summary>
    private bool Leads => leadership.IsLeader;

    /// <summary>
    /// A run as the leader holds it. One that a follower queued a moment ago (the caller's next
    /// call landed here) is taken up now rather than at the next tick.
    /// </summary>
    private Run? LeadersRun(string runId)
    {
        var run = coordinator.Get(runId);
        if (run is not null || !leadership.Enabled)
        {
            return run;
        }

        coordinator.TakeUpRequests();
        return coordinator.Get(runId);
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
