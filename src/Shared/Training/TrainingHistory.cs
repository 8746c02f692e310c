namespace HardPair.Shared.Training;

/// <summary>
/// A training curve: the step reports averaged over windows of a fixed number of steps (the
/// per-step losses of adversarial training are too noisy to plot as they come). Pass it as the
/// trainer's progress, alone or in front of another progress it forwards to.
/// </summary>
public sealed class TrainingHistory(int window, IProgress<TrainingProgress>? next = null) : IProgress<TrainingProgress>
{
    private readonly List<TrainingHistoryPoint> points = [];
    private int count;
    private double loss;
    private double natural;
    private double robust;
    private bool hasRobust;
    private double examplesPerSecond;

    /// <summary>One point per full window, plus the last (possibly shorter) one.</summary>
    public IReadOnlyList<TrainingHistoryPoint> Points => points;

    public void Report(TrainingProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        count++;
        loss += value.Loss;
        natural += value.NaturalLoss;
        if (value.RobustLoss is { } r)
        {
            robust += r;
            hasRobust = true;
        }

        examplesPerSecond += value.ExamplesPerSecond;
        if (count == window || value.Step == value.TotalSteps)
        {
            points.Add(new TrainingHistoryPoint(
                value.Step,
                Math.Round(value.Epoch, 4),
                loss / count,
                natural / count,
                hasRobust ? robust / count : null,
                value.LearningRate,
                examplesPerSecond / count));
            count = 0;
            loss = natural = robust = examplesPerSecond = 0;
            hasRobust = false;
        }

        next?.Report(value);
    }
}

/// <summary>Mean losses over the steps that ended at <paramref name="Step"/>.</summary>
public sealed record TrainingHistoryPoint(int Step, double Epoch, double Loss, double NaturalLoss, double? RobustLoss, double LearningRate, double ExamplesPerSecond);
