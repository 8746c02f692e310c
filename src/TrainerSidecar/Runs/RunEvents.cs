using System.Threading.Channels;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// Live events of runs for their watchers: one bounded channel per watcher (a slow watcher loses
/// the oldest events beyond 64, never blocks the run), completed when the run finishes. The
/// coordinator announces each change, and subscribes each watcher, under its write lock, so
/// that a watcher that subscribes with the current state misses nothing after it, and hears a
/// run's changes in the order they were made.
/// </summary>
public sealed class RunEvents
{
    private const int Backlog = 64;
    private readonly Lock gate = new();
    private readonly Dictionary<string, List<Channel<RunChange>>> watchers = new(StringComparer.Ordinal);

    /// <summary>A watcher of <paramref name="current"/>: its first event is the current state; a finished run's channel ends there.</summary>
    public Subscription Subscribe(TrainingRun current)
    {
        ArgumentNullException.ThrowIfNull(current);
        var channel = Channel.CreateBounded<RunChange>(new BoundedChannelOptions(Backlog) { FullMode = BoundedChannelFullMode.DropOldest });
        channel.Writer.TryWrite(new RunChange(current, "current state"));
        if (RunCoordinator.IsTerminal(current.Phase))
        {
            channel.Writer.TryComplete();
            return new Subscription(this, current.RunId, channel);
        }

        lock (gate)
        {
            if (!watchers.TryGetValue(current.RunId, out var list))
            {
                watchers[current.RunId] = list = [];
            }

            list.Add(channel);
        }

        return new Subscription(this, current.RunId, channel);
    }

    /// <summary>Tells the run's watchers of its new state.</summary>
    public void Announce(TrainingRun run, string message, double examplesPerSecond = 0)
    {
        ArgumentNullException.ThrowIfNull(run);
        lock (gate)
        {
            if (watchers.TryGetValue(run.RunId, out var list))
            {
                var item = new RunChange(run, message, examplesPerSecond);
                list.ForEach(c => c.Writer.TryWrite(item));
            }
        }
    }

    /// <summary>Ends the run's watchers' streams (after its last event).</summary>
    public void Finish(string runId)
    {
        lock (gate)
        {
            if (watchers.Remove(runId, out var list))
            {
                list.ForEach(c => c.Writer.TryComplete());
            }
        }
    }

    private void Unsubscribe(string runId, Channel<RunChange> channel)
    {
        lock (gate)
        {
            if (watchers.TryGetValue(runId, out var list))
            {
                list.Remove(channel);
            }
        }
    }

    /// <summary>One watcher's events; disposing it stops them.</summary>
    public sealed class Subscription(RunEvents owner, string runId, Channel<RunChange> channel) : IDisposable
    {
        public ChannelReader<RunChange> Events => channel.Reader;

        public void Dispose() => owner.Unsubscribe(runId, channel);
    }
}
