using HardPair.ML.Training;
using HardPair.Testing;
using Xunit;

namespace HardPair.Shared.Tests.ML.Training;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TrainingHistoryTests
{
    [Fact]
    public void Report_AveragesEachWindow_KeepsTheShortLastOne_AndForwardsEveryReport()
    {
        var forwarded = new List<int>();
        var history = new TrainingHistory(window: 3, new Progress(forwarded));
        for (var step = 1; step <= 7; step++)
        {
            history.Report(new TrainingProgress(step, 7, step / 2.0, Loss: step, NaturalLoss: 10 * step, RobustLoss: step > 3 ? 1 : null, LearningRate: 0.1, ExamplesPerSecond: 100));
        }

        Assert.Equal([1, 2, 3, 4, 5, 6, 7], forwarded);
        Assert.Collection(
            history.Points,
            p => Assert.Equal((3, 1.5, 2.0, 20.0, (double?)null), (p.Step, p.Epoch, p.Loss, p.NaturalLoss, p.RobustLoss)),
            p => Assert.Equal((6, 3.0, 5.0, 50.0, (double?)1), (p.Step, p.Epoch, p.Loss, p.NaturalLoss, p.RobustLoss)),
            p => Assert.Equal((7, 3.5, 7.0, 70.0, (double?)1), (p.Step, p.Epoch, p.Loss, p.NaturalLoss, p.RobustLoss)));
    }

    [Fact]
    public void Report_AfterAResume_KeepsThePointsUpToTheSnapshotFromItsFile_AndAddsTheNewOnes()
    {
        using var temp = new TempDirectory();
        var file = temp.Combine("history.json");
        var first = new TrainingHistory(window: 2, next: null, file, resumedFromStep: 0);
        for (var step = 1; step <= 5; step++)
        {
            first.Report(Step(step));
        }

        // Killed after step 5; the latest snapshot is step 3: steps 4 and 5 run again.
        var resumed = new TrainingHistory(window: 2, next: null, file, resumedFromStep: 3);
        for (var step = 4; step <= 7; step++)
        {
            resumed.Report(Step(step));
        }

        Assert.Equal([2, 5, 7], resumed.Points.Select(p => p.Step));
        Assert.Equal([2, 5, 7], new TrainingHistory(window: 2, next: null, file, resumedFromStep: 7).Points.Select(p => p.Step));
        Assert.Single(Directory.EnumerateFiles(temp.Path));
    }

    private static TrainingProgress Step(int step) => new(step, 7, step / 2.0, Loss: step, NaturalLoss: step, RobustLoss: null, LearningRate: 0.1, ExamplesPerSecond: 100);

    private sealed class Progress(List<int> steps) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => steps.Add(value.Step);
    }
}
