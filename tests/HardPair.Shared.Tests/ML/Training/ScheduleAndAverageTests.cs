using HardPair.ML.Data;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Training;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Training;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ScheduleAndAverageTests
{
    [Theory]
    [InlineData(LearningRateSchedule.Step, 0, 0.1)]
    [InlineData(LearningRateSchedule.Step, 69, 0.1)]
    [InlineData(LearningRateSchedule.Step, 70, 0.01)]
    [InlineData(LearningRateSchedule.Step, 90, 0.001)]
    [InlineData(LearningRateSchedule.Cosine, 0, 0.1)]
    [InlineData(LearningRateSchedule.Cosine, 50, 0.05)]
    [InlineData(LearningRateSchedule.Cosine, 100, 0)]
    [InlineData(LearningRateSchedule.OneCycle, 0, 0.1 / 30)]
    [InlineData(LearningRateSchedule.OneCycle, 29, 0.1)]
    [InlineData(LearningRateSchedule.OneCycle, 65, 0.05)]
    [InlineData(LearningRateSchedule.OneCycle, 99, 0.1 / 70)]
    public void LearningRateAt_FollowsTheSchedule(LearningRateSchedule schedule, int step, double expected) =>
        Assert.Equal(expected, new TrainingOptions { LearningRate = 0.1, Schedule = schedule }.LearningRateAt(step, 100), 1e-9);

    [Fact]
    public void WeightAverage_IsTheWarmedUpExponentialAverageOfTheSteps_AndReplacesTheWeightsAtTheEnd()
    {
        torch.manual_seed(5);
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train).Take(256);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        using var optimizer = new FlatSgd(model.parameters(), 0.05, 0.9, 0);
        using var average = new WeightAverage(optimizer, decay: 0.5);
        var objective = TrainingObjectives.Create(TrainingObjectives.Standard, new ObjectiveOptions { Scale = 1 });

        // Expected: a₀ = w₀, then aₜ = d·aₜ₋₁ + (1 − d)·wₜ with d = min(0.5, (1 + t)/(10 + t)).
        using var expected = optimizer.Values.clone();
        var t = 0;
        foreach (var batch in data.BatchIndices(64, seed: 1))
        {
            using var scope = torch.NewDisposeScope();
            var (images, labels) = data.Batch(batch);
            optimizer.ZeroGrad();
            objective.Compute(model, images, labels).Total.backward();
            optimizer.Step();
            average.Update();
            t++;
            var d = Math.Min(0.5, (1.0 + t) / (10.0 + t));
            using var noGrad = torch.no_grad();
            expected.mul_(d).add_(optimizer.Values, alpha: 1 - d);
        }

        average.CopyInto();

        using var difference = optimizer.Values.sub(expected).abs().max();
        Assert.True(difference.item<float>() < 1e-6, $"the average differs by {difference.item<float>()}");
    }
}
