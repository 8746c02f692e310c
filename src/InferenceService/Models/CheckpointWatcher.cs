using HardPair.InferenceService.Options;
using HardPair.Storage.Checkpoints;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.Models;

/// <summary>
/// Finds new checkpoints by itself: at start (so a stored model serves at once), on file-system
/// events in the store, and by polling in case an event is lost (network volumes drop them).
/// </summary>
public sealed partial class CheckpointWatcher(ModelCatalog catalog, CheckpointStore store, IOptions<InferenceOptions> options, IOptions<CheckpointStoreOptions> storeOptions, TimeProvider time, ILogger<CheckpointWatcher> logger) : BackgroundService
{
    private readonly SemaphoreSlim changed = new(0);

    /// <summary>Asks for a refresh soon; pokes that arrive before it starts are one refresh.</summary>
    public void Poke() => changed.Release();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Directory.CreateDirectory(store.Root);
        if (storeOptions.Value.SeedFrom is { Length: > 0 } seed)
        {
            try
            {
                foreach (var version in store.SeedFrom(seed))
                {
                    LogSeeded(logger, version, seed);
                }
            }
            catch (Exception ex) when (ex is CheckpointException or IOException or UnauthorizedAccessException)
            {
                // Serving what the store holds (or nothing yet) beats not starting at all.
                LogSeedFailed(logger, ex, seed);
            }
        }

        // New version folders, and the pin file (written by a rename, removed by a delete). A
        // publish stages its folder in .staging/ and moves it in: dot-names do not count.
        using var watcher = new FileSystemWatcher(store.Root) { IncludeSubdirectories = false, NotifyFilter = NotifyFilters.DirectoryName | NotifyFilters.FileName };
        watcher.Created += (_, e) => PokeUnlessStaging(e.Name);
        watcher.Renamed += (_, e) => PokeUnlessStaging(e.Name);
        watcher.Deleted += (_, e) => PokeUnlessStaging(e.Name);
        watcher.EnableRaisingEvents = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await catalog.RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogStoreUnreadable(logger, store.Root, ex.Message);
            }

            // Until a poke, or the poll interval on the service's clock.
            using (var poll = new CancellationTokenSource(options.Value.PollInterval, time))
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, poll.Token))
            {
                try
                {
                    await changed.WaitAsync(wait.Token);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (OperationCanceledException)
                {
                    // The poll interval passed.
                }
            }

            // Every change seen so far is covered by the refresh about to run.
            while (changed.Wait(0))
            {
            }
        }
    }

    private void PokeUnlessStaging(string? name)
    {
        if (name is not null && !name.StartsWith('.'))
        {
            Poke();
        }
    }

    public override void Dispose()
    {
        changed.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Seeding the checkpoint store from {Seed} failed")]
    private static partial void LogSeedFailed(ILogger logger, Exception exception, string seed);

    [LoggerMessage(Level = LogLevel.Information, Message = "The empty store was seeded with {Version} from {Source}")]
    private static partial void LogSeeded(ILogger logger, string version, string source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint store {Root} could not be read ({Reason}); serving goes on")]
    private static partial void LogStoreUnreadable(ILogger logger, string root, string reason);
}
