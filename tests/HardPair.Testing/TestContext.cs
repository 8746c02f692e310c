namespace HardPair.Testing;

/// <summary>Cancellation for test calls, so a hung service fails the test instead of the run.</summary>
public static class TestContext
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    /// <summary>Calls within this long of each other share one source (its deadline at most this much later).</summary>
    private static readonly TimeSpan Sharing = TimeSpan.FromSeconds(5);

    private static readonly Lock Gate = new();
    private static readonly Queue<(long DueMs, CancellationTokenSource Source)> Sources = new();

    /// <summary>
    /// A token cancelled two minutes (up to five seconds more) after this call. Sources are shared
    /// by calls close together and disposed once they have fired, so none is left behind however
    /// many calls the suite makes.
    /// </summary>
    public static CancellationToken Current
    {
        get
        {
            var now = Environment.TickCount64;
            lock (Gate)
            {
                while (Sources.TryPeek(out var oldest) && oldest.Source.IsCancellationRequested && oldest.DueMs + 1000 < now)
                {
                    Sources.Dequeue().Source.Dispose();
                }

                if (Sources.Count == 0 || Sources.Last().DueMs < now + (long)Deadline.TotalMilliseconds)
                {
                    var lifetime = Deadline + Sharing;
                    Sources.Enqueue((now + (long)lifetime.TotalMilliseconds, new CancellationTokenSource(lifetime)));
                }

                return Sources.Last().Source.Token;
            }
        }
    }
}
