namespace HardPair.Testing;

/// <summary>Cancellation for test calls, so a hung service fails the test instead of the run.</summary>
public static class TestContext
{
    public static CancellationToken Current => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;
}
