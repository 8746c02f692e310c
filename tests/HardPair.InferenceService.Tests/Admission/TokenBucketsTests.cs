using HardPair.InferenceService.Admission;
using HardPair.Testing;
using Microsoft.Extensions.Time.Testing;

namespace HardPair.InferenceService.Tests.Admission;

/// <summary>The rate limit's buckets on a fake clock: refills, pushbacks and forgetting, without waiting.</summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TokenBucketsTests
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public void ABucket_GivesItsBurst_ThenRefillsAtTheRate_AndSaysWhenToRetry()
    {
        var buckets = new TokenBuckets(perSecond: 10, burst: 5, time);

        Assert.True(buckets.TryTake("a", 5, out _));
        Assert.False(buckets.TryTake("a", 2, out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(200), retryAfter);
        Assert.True(buckets.TryTake("b", 5, out _)); // another client's bucket is its own

        time.Advance(TimeSpan.FromMilliseconds(150));
        Assert.False(buckets.TryTake("a", 2, out retryAfter));
        Assert.Equal(50, retryAfter.TotalMilliseconds, 3);
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(buckets.TryTake("a", 2, out _));

        // Idle for long enough, a bucket is full again (never more than its burst).
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(buckets.TryTake("a", 5, out _));
        Assert.False(buckets.TryTake("a", 1, out _));
    }

    [Fact]
    public void IdleBuckets_AreForgottenAtTheNextSweep()
    {
        var buckets = new TokenBuckets(perSecond: 10, burst: 5, time);
        foreach (var client in Enumerable.Range(0, 100).Select(i => $"client-{i}"))
        {
            Assert.True(buckets.TryTake(client, 1, out _));
        }

        Assert.Equal(100, buckets.Clients);
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(buckets.TryTake("busy", 5, out _));

        Assert.Equal(1, buckets.Clients);
    }
}
