namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// With replicas, while this sidecar leads: every second, takes up the runs and cancellations
/// that followers left in the shared state folder (<see cref="FollowerRuns"/>). Separate from the
/// worker, which is busy for a whole run at a time.
/// </summary>
public sealed partial class RunRequestIntake(
    RunCoordinator coordinator,
    Leadership.TrainingLeadership leadership,
    TimeProvider time,
    ILogger<RunRequestIntake> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!leadership.Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!leadership.IsLeader)
                {
                    continue;
                }

                try
                {
                    coordinator.TakeUpRequests();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The shared volume hiccuped: what was left there stays for the next tick.
                    LogIntakeFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the runs other replicas queued; trying again in a second")]
    private static partial void LogIntakeFailed(ILogger logger, Exception exception);
}
