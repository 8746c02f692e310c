using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Options;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// Runs one run at a time: the next queued one, or — in continuous mode, when the queue is empty
/// and the cycle is due — a scheduled cycle. Tensor work runs on a dedicated thread; a SIGTERM
/// stops the current run at the next step and leaves it to be resumed on the next start.
/// </summary>
public sealed partial class TrainerWorker(
    RunCoordinator coordinator,
    RunExecutor executor,
    Leadership.TrainingLeadership leadership,
    TimeProvider time,
    IOptions<TrainerOptions> options,
    ILogger<TrainerWorker> logger) : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        CancellationToken? currentTerm = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            CancellationToken termToken;
            try
            {
                termToken = await leadership.WaitForTermAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            if (currentTerm != termToken)
            {
                // A new term: with leader election the previous leader may have changed the shared
                // state, so it is read again (and interrupted runs resumed) now that this one leads.
                if (leadership.Enabled)
                {
                    coordinator.Reload();
                }

                currentTerm = termToken;
                coordinator.NextCycleAt = settings.Continuous ? time.GetUtcNow() + settings.FirstCycleDelay : null;
            }

            using var term = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, termToken);
            if (coordinator.NextCycleAt is { } due && time.GetUtcNow() >= due && coordinator.Queued().Count == 0)
            {
                coordinator.Start(new StartRunRequest { Reason = "scheduled continuous cycle" }, RunTrigger.Continuous);
                coordinator.NextCycleAt = null;
            }

            (TrainingRun Run, CancellationToken Cancellation)? next;
            try
            {
                next = await coordinator.TakeNextAsync(Poll, term.Token);
            }
            catch (OperationCanceledException)
            {
                continue;
            }

            if (next is not { } work)
            {
                continue;
            }

            LogStarting(logger, work.Run.RunId, work.Run.Method, work.Run.Trigger);
            await Task.Factory.StartNew(
                () => executor.Execute(work.Run, work.Cancellation),
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            if (settings.Continuous && coordinator.NextCycleAt is null)
            {
                coordinator.NextCycleAt = time.GetUtcNow() + settings.CycleInterval;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting run {RunId} ({Method}, {Trigger})")]
    private static partial void LogStarting(ILogger logger, string runId, string method, RunTrigger trigger);
}
