using System.Collections.Concurrent;

namespace HardPair.InferenceService.Admission;

/// <summary>
/// A token bucket per client on the service's <see cref="TimeProvider"/>: each holds up to
/// <c>burst</c> permits and gains <c>perSecond</c> a second (computed when it is next used, so
/// nothing ticks); a bucket that would be full again is forgotten at the next sweep, so the
/// number of clients seen does not grow memory.
/// </summary>
internal sealed class TokenBuckets(double perSecond, int burst, TimeProvider time)
{
    private static readonly TimeSpan SweepEvery = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Bucket> buckets = new(StringComparer.Ordinal);
    private long lastSweep = time.GetTimestamp();

    public int Clients => buckets.Count;

    /// <summary>Takes <paramref name="permits"/> from the client's bucket; when it holds fewer, takes none and says how long until it would.</summary>
    public bool TryTake(string client, int permits, out TimeSpan retryAfter)
    {
        var now = time.GetTimestamp();
        Sweep(now);
        var bucket = buckets.GetOrAdd(client, _ => new Bucket(burst, now));
        lock (bucket)
        {
            bucket.Refill(now, perSecond, burst, time.TimestampFrequency);
            if (bucket.Permits >= permits)
            {
                bucket.Permits -= permits;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((permits - bucket.Permits) / perSecond);
            return false;
        }
    }

    private void Sweep(long now)
    {
        var last = Interlocked.Read(ref lastSweep);
        if (time.GetElapsedTime(last, now) < SweepEvery || Interlocked.CompareExchange(ref lastSweep, now, last) != last)
        {
            return;
        }

        foreach (var (client, bucket) in buckets)
        {
            lock (bucket)
            {
                bucket.Refill(now, perSecond, burst, time.TimestampFrequency);
                if (bucket.Permits >= burst)
                {
                    buckets.TryRemove(client, out _);
                }
            }
        }
    }

    private sealed class Bucket(double permits, long at)
    {
        public double Permits { get; set; } = permits;

        private long At { get; set; } = at;

        public void Refill(long now, double perSecond, int burst, long frequency)
        {
            Permits = Math.Min(burst, Permits + ((now - At) * perSecond / frequency));
            At = now;
        }
    }
}
