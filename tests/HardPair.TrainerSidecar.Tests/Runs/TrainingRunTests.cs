using Google.Protobuf.WellKnownTypes;
using HardPair.Protos.V1;
using HardPair.Testing;
using HardPair.TrainerSidecar.Runs;

namespace HardPair.TrainerSidecar.Tests.Runs;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TrainingRunTests
{
    [Fact]
    public void FromContract_ThenToContract_KeepsEveryField()
    {
        var contract = new Run
        {
            RunId = "run-20261207T120000-abcd1234",
            Phase = RunPhase.Published,
            Trigger = RunTrigger.Operator,
            Method = "pgd-at",
            HyperParameters = { ["epsilon"] = 0.1, ["beta"] = 1, ["dataSeed"] = 42 },
            Reason = "test",
            ParentVersion = "v1",
            Step = 93,
            TotalSteps = 94,
            Loss = 0.5,
            TrainExamples = 12_000,
            FeedbackExamples = 7,
            Evaluation = new RunEvaluation { CleanAccuracy = 0.85, RobustAccuracy = 0.63, RobustAttack = "apgd-ce+apgd-t3", Epsilon = 0.1, HardPairShare = 0.43, Temperature = 1.2, Examples = 1000 },
            Gate = new GateDecision { Accepted = true, Reason = "accepted", CandidateRobustAccuracy = 0.63, CandidateCleanAccuracy = 0.85, ServingRobustAccuracy = 0.62, ServingVersion = "v1" },
            PublishedVersion = "v2",
            Error = "",
            CreatedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero)),
            StartedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 7, 12, 0, 1, TimeSpan.Zero)),
            FinishedAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 7, 12, 5, 0, TimeSpan.Zero)),
            Resumes = 2,
            Device = "cpu",
            RequestId = "cli-1",
        };

        var run = TrainingRun.FromContract(contract);

        Assert.Equal(contract, run.ToContract());
        Assert.Equal(0.62, run.Gate!.ServingRobustAccuracy);
        Assert.Equal(42, run.HyperParameters["dataSeed"]);
    }

    [Fact]
    public void AQueuedRun_HasNoTimesItHasNotReached_AndNothingServingIsNoParentOrServingScore()
    {
        var contract = new Run { RunId = "run-1", Phase = RunPhase.Queued, CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch), Gate = new GateDecision { ServingRobustAccuracy = -1 } };

        var run = TrainingRun.FromContract(contract);

        Assert.Null(run.StartedAt);
        Assert.Null(run.FinishedAt);
        Assert.Null(run.Gate!.ServingRobustAccuracy);
        Assert.Null(run.Gate.ServingVersion);
        Assert.Equal(contract, run.ToContract());
    }

    [Fact]
    public void Equality_ComparesHyperParametersByTheirEntries()
    {
        var a = new TrainingRun { RunId = "run-1" }.WithHyperParameters([new("beta", 1)]);
        var b = new TrainingRun { RunId = "run-1" }.WithHyperParameters([new("beta", 1)]);

        Assert.Equal(a, b);
        Assert.NotEqual(a, b.WithHyperParameters([new("beta", 2)]));
        Assert.NotEqual(a, b with { Step = 1 });
    }
}
