using HardPair.Shared.Training;
using Xunit;

namespace HardPair.Shared.Tests.Training;

public sealed class TrainingHistoryTests
{
    [Fact]
    public void Averages_each_window_keeps_the_short_last_one_and_forwards_every_report()
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

    private sealed class Progress(List<int> steps) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => steps.Add(value.Step);
    }
}
