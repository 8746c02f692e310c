using HardPair.Protos.V1;
using HardPair.Testing;
using HardPair.TrainerSidecar.Runs;

namespace HardPair.TrainerSidecar.Tests.Runs;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class DataSeedTests
{
    [Fact]
    public void Cycles_WithoutASeed_DrawTheirSubsetsFromTheirIds_EachItsOwn_TheSameOnResume()
    {
        var seeds = Enumerable.Range(0, 20).Select(i => RunExecutor.DataSeed(new TrainingRun { RunId = $"run-20261201T1200{i:00}-abcd" }, seed: 1)).ToList();

        Assert.Equal(20, seeds.Distinct().Count());
        Assert.All(seeds, s => Assert.True(s >= 0));
        Assert.Equal(seeds[3], RunExecutor.DataSeed(new TrainingRun { RunId = "run-20261201T120003-abcd" }, seed: 1));
    }

    [Fact]
    public void ARunThatNamesASeed_OrADataSeed_GetsIt()
    {
        var withSeed = new TrainingRun { RunId = "run-a" }.WithHyperParameters([new("seed", 7)]);
        var withDataSeed = new TrainingRun { RunId = "run-b" }.WithHyperParameters([new("seed", 7), new("dataSeed", 42)]);

        Assert.Equal(7, RunExecutor.DataSeed(withSeed, seed: 1));
        Assert.Equal(42, RunExecutor.DataSeed(withDataSeed, seed: 1));
    }
}
