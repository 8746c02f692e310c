using HardPair.TrainerSidecar.Leadership;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// Reads the runs from the state folder when the sidecar starts, before the control API serves:
/// queued runs stay queued, a run caught mid-flight resumes from its snapshot or is marked
/// (<see cref="RunCoordinator.Reload"/>). With leader election the folder is shared and only a
/// leader may recover, when its term begins (<see cref="TrainerWorker"/>), so this does nothing.
/// </summary>
public sealed class RunRecovery(RunCoordinator coordinator, IOptions<LeaderElectionOptions> election) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!election.Value.Enabled)
        {
            coordinator.Reload();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
