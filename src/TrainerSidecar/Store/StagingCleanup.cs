using HardPair.Storage.Checkpoints;

namespace HardPair.TrainerSidecar.Store;

/// <summary>
/// On start, clears what a crashed publish left in staging. Publishing is the trainer's (the
/// inference service writes only the pin); staging folders of live publishers are left alone.
/// </summary>
internal sealed partial class StagingCleanup(CheckpointStore store, ILogger<StagingCleanup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(store.Root);
        var removed = store.RemoveAbandonedStaging();
        if (removed > 0)
        {
            LogRemoved(logger, removed, store.Root);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removed {Count} abandoned staging folder(s) from {Store}")]
    private static partial void LogRemoved(ILogger logger, int count, string store);
}
