using HardPair.Storage.Checkpoints;

namespace HardPair.TrainerSidecar.Store;

/// <summary>The trainer is the store's only writer: on start it clears what a crashed publish left in staging.</summary>
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
