using System.Text.Json;
using HardPair.Storage.Checkpoints;

namespace HardPair.ML.Training;

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
    private readonly string? file;

    /// <summary>
    /// A curve kept in <paramref name="file"/> across restarts of a resumable run: it starts with
    /// the points the file has up to <paramref name="resumedFromStep"/> (the steps after it are run
    /// again) and rewrites the file, atomically, with each new point.
    /// </summary>
    public TrainingHistory(int window, IProgress<TrainingProgress>? next, string file, int resumedFromStep)
        : this(window, next)
    {
        ArgumentNullException.ThrowIfNull(file);
        this.file = file;
        if (File.Exists(file))
        {
            var earlier = JsonSerializer.Deserialize<List<TrainingHistoryPoint>>(File.ReadAllBytes(file)) ?? [];
            points.AddRange(earlier.Where(p => p.Step <= resumedFromStep));
        }
    }

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
            Save();
            count = 0;
            loss = natural = robust = examplesPerSecond = 0;
            hasRobust = false;
        }

        next?.Report(value);
    }

    private void Save()
    {
        if (file is null)
        {
            return;
        }

        var staging = $"{file}.{Guid.NewGuid():N}.tmp";
        DurableFiles.WriteAllBytes(staging, JsonSerializer.SerializeToUtf8Bytes(points));
        File.Move(staging, file, overwrite: true);
    }
}

/// <summary>Mean losses over the steps that ended at <paramref name="Step"/>.</summary>
public sealed record TrainingHistoryPoint(int Step, double Epoch, double Loss, double NaturalLoss, double? RobustLoss, double LearningRate, double ExamplesPerSecond);
