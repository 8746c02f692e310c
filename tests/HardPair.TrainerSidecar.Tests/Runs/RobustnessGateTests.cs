using HardPair.Testing;
using HardPair.TrainerSidecar.Gate;
using HardPair.TrainerSidecar.Options;

namespace HardPair.TrainerSidecar.Tests.Runs;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class RobustnessGateTests
{
    private static readonly GateOptions Options = new() { MaxRobustDrop = 0.02, MinCleanAccuracy = 0.6 };

    [Fact]
    public void Decide_MoreRobustCandidate_IsAccepted()
    {
        var decision = RobustnessGate.Decide(new GateMeasurement(0.8, 0.55), new GateMeasurement(0.82, 0.50), "v1", finiteWeights: true, Options);

        Assert.True(decision.Accepted, decision.Reason);
        Assert.Equal(0.50, decision.ServingRobustAccuracy);
        Assert.Equal("v1", decision.ServingVersion);
    }

    [Fact]
    public void Decide_DropWithinDelta_IsAccepted_AndBeyondDelta_IsRejectedWithTheNumbers()
    {
        Assert.True(RobustnessGate.Decide(new GateMeasurement(0.8, 0.485), new GateMeasurement(0.8, 0.50), "v1", true, Options).Accepted);

        var rejected = RobustnessGate.Decide(new GateMeasurement(0.8, 0.47), new GateMeasurement(0.8, 0.50), "v1", true, Options);

        Assert.False(rejected.Accepted);
        Assert.Contains("robust accuracy 47.0", rejected.Reason, StringComparison.Ordinal);
        Assert.Contains("v1's 50.0", rejected.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_CleanBelowFloor_IsRejectedEvenWithNothingServing()
    {
        var decision = RobustnessGate.Decide(new GateMeasurement(0.59, 0.5), null, null, true, Options);

        Assert.False(decision.Accepted);
        Assert.Contains("below the floor", decision.Reason, StringComparison.Ordinal);
        Assert.Null(decision.ServingRobustAccuracy);
        Assert.Equal((-1.0, ""), (decision.ToContract().ServingRobustAccuracy, decision.ToContract().ServingVersion));
    }

    [Theory]
    [InlineData(false, 0.8)]
    [InlineData(true, double.NaN)]
    public void Decide_NonFinite_IsRejected(bool finiteWeights, double clean)
    {
        var decision = RobustnessGate.Decide(new GateMeasurement(clean, 0.9), new GateMeasurement(0.8, 0.1), "v1", finiteWeights, Options);

        Assert.False(decision.Accepted);
        Assert.Contains("not finite", decision.Reason, StringComparison.Ordinal);
    }
}
