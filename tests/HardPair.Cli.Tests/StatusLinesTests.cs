using HardPair.Cli.Commands;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.Cli.Tests;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class StatusLinesTests
{
    [Fact]
    public void TrainerLines_OnAFollower_NameTheLeaderInsteadOfSayingThereAreNoCycles()
    {
        var follower = new TrainerStatus
        {
            Device = "cpu",
            Leader = false,
            LeaderIdentity = "hardpair-7d9f-a",
            CurrentRun = new Run { RunId = "run-1", Phase = RunPhase.Training, Step = 50, TotalSteps = 94 },
            LastPublishedVersion = "v1",
        };

        var lines = TrainingCommands.TrainerLines(follower).ToList();

        Assert.Equal("trainer   run-1 training step 50/94 on cpu; 0 queued; 0 feedback examples", lines[0]);
        Assert.Equal("published v1; this replica follows hardpair-7d9f-a, which trains and schedules", lines[1]);
        Assert.EndsWith("; no scheduled cycles", TrainingCommands.TrainerLines(new TrainerStatus { Leader = true }).Last(), StringComparison.Ordinal);
        Assert.EndsWith("follows no leader yet, which trains and schedules", TrainingCommands.TrainerLines(new TrainerStatus { Leader = false }).Last(), StringComparison.Ordinal);
    }
}
