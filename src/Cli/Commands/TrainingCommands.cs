using System.Globalization;
using Grpc.Core;
using HardPair.Cli.Remote;
using HardPair.CommandLine;
using HardPair.Protos.V1;

namespace HardPair.Cli.Commands;

/// <summary><c>hardpair retrain</c>, <c>status</c> and <c>feedback add</c>, through the inference service's admin API.</summary>
internal static class TrainingCommands
{
    private const int BarWidth = 30;

    public static async Task<int> RetrainAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, bool interactive, CancellationToken cancellationToken)
    {
        var request = new StartRunRequest
        {
            Method = line.Optional("method") ?? "",
            Reason = line.Optional("reason") ?? $"hardpair retrain by {Environment.UserName}",
            // One id for this command, whatever retries happen on the way: one run.
            RequestId = "cli-" + Guid.NewGuid().ToString("N"),
        };
        if (line.Optional("epochs") is not null)
        {
            request.HyperParameters["epochs"] = line.Double("epochs", 1, 0.01, 1000);
        }

        var subset = line.Int("train-subset", 0, 0, 1_000_000);
        if (subset > 0)
        {
            request.Data = new DataSelection { TrainSubset = subset };
        }

        var watch = line.Flag("watch");
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(0);

        var run = await connection.Admin.TriggerRetrainingAsync(request, cancellationToken: cancellationToken);
        output.WriteLine($"run {run.RunId} queued ({run.Method})");
        if (!watch)
        {
            return CliApp.Ok;
        }

        using var stream = connection.Admin.WatchTraining(new WatchRunRequest { RunId = run.RunId }, cancellationToken: cancellationToken);
        var lastPhase = RunPhase.Unspecified;
        var lastReported = -1;
        await foreach (var item in stream.ResponseStream.ReadAllAsync(cancellationToken))
        {
            run = item.Run;
            if (interactive && run.Phase == RunPhase.Training && run.TotalSteps > 0)
            {
                var filled = BarWidth * run.Step / run.TotalSteps;
                output.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', BarWidth - filled)}] step {run.Step}/{run.TotalSteps} loss {run.Loss:0.000} {item.ExamplesPerSecond:0} img/s\u001b[K"));
            }
            else if (run.Phase == RunPhase.Training && run.TotalSteps > 0 && run.Step * 10 / run.TotalSteps != lastReported)
            {
                lastReported = run.Step * 10 / run.TotalSteps;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {run.Step}/{run.TotalSteps} loss {run.Loss:0.000}"));
            }

            if (run.Phase != lastPhase)
            {
                if (interactive && lastPhase == RunPhase.Training)
                {
                    output.WriteLine();
                }

                lastPhase = run.Phase;
                var message = item.Message.StartsWith(Phase(run.Phase), StringComparison.Ordinal) ? item.Message : $"{Phase(run.Phase)}: {item.Message}";
                output.WriteLine(item.Message.Length > 0 ? message : Phase(run.Phase));
            }
        }

        output.WriteLine(run.Phase switch
        {
            RunPhase.Published => $"published {run.PublishedVersion} ({run.Gate?.Reason})",
            RunPhase.Rejected => $"not published: {run.Gate?.Reason}",
            _ => $"{Phase(run.Phase)}: {run.Error}",
        });
        return run.Phase == RunPhase.Published ? CliApp.Ok : CliApp.Failed;
    }

    public static async Task<int> StatusAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, CancellationToken cancellationToken)
    {
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(0);
        var c = CultureInfo.InvariantCulture;
        try
        {
            var model = await connection.Classifier.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: cancellationToken);
            var robust = model.Robust;
            output.WriteLine(string.Create(c, $"serving   {model.Version} ({model.TrainingMethod}, clean {model.CleanAccuracy:P1}{(robust is null ? "" : $", robust {robust.Accuracy:P1} ({robust.Attack})")}, ECE {model.EceAfter:P1}) on {model.Device}"));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            output.WriteLine($"serving   nothing ({ex.Status.Detail})");
        }

        try
        {
            var trainer = await connection.Admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: cancellationToken);
            foreach (var text in TrainerLines(trainer))
            {
                output.WriteLine(text);
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            output.WriteLine($"trainer   unreachable ({ex.Status.Detail})");
        }

        return CliApp.Ok;
    }

    /// <summary>
    /// The trainer's two status lines. A replica that does not lead training knows the runs (from
    /// the shared folder) but not the leader's schedule, and says so rather than "no cycles".
    /// </summary>
    internal static IEnumerable<string> TrainerLines(TrainerStatus trainer)
    {
        var c = CultureInfo.InvariantCulture;
        var current = trainer.CurrentRun is { } run
            ? string.Create(c, $"{run.RunId} {Phase(run.Phase)} step {run.Step}/{run.TotalSteps}")
            : "idle";
        var schedule = trainer.NextCycleAt is { } next ? $"next cycle {next.ToDateTimeOffset():u}"
            : trainer.Leader ? "no scheduled cycles"
            : $"this replica follows {(trainer.LeaderIdentity.Length > 0 ? trainer.LeaderIdentity : "no leader yet")}, which trains and schedules";
        yield return $"trainer   {current} on {trainer.Device}; {trainer.QueuedRuns.Count} queued; {trainer.FeedbackExamples} feedback examples";
        yield return $"published {(trainer.LastPublishedVersion.Length > 0 ? trainer.LastPublishedVersion : "nothing yet")}; {schedule}";
    }

    public static async Task<int> AddFeedbackAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, CancellationToken cancellationToken)
    {
        var (image, datasetLabel, description) = ImageSource.Read(line);
        var label = line.Int("label", datasetLabel ?? -1, 0, 9);
        if (label < 0)
        {
            throw new UsageException("--label is required for a PNG file (0-9)");
        }

        var source = line.Optional("source") ?? "hardpair-cli";
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(line.Positionals.Count);
        var request = new SubmitExamplesRequest { Source = source, RequestId = "cli-" + Guid.NewGuid().ToString("N") };
        request.Examples.Add(new LabelledExample { Pixels = Google.Protobuf.ByteString.CopyFrom(ImageSource.GrayPixels(image)), Label = label });
        var reply = await connection.Admin.SubmitLabeledExamplesAsync(request, cancellationToken: cancellationToken);
        output.WriteLine($"stored {description} as label {label}; the feedback log holds {reply.TotalExamples} example(s)");
        return CliApp.Ok;
    }

    private static string Phase(RunPhase phase) => phase.ToString().ToLowerInvariant();
}
