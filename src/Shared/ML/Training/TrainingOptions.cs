using HardPair.ML.Recipes;

namespace HardPair.ML.Training;

/// <summary>The optimiser and schedule of a training run (SGD with momentum; step, cosine or one-cycle learning rate; optionally an average of the weights); ranges and the searched recipe are <see cref="HyperParameters"/>'.</summary>
public sealed record TrainingOptions
{
    public double Epochs { get; init; } = 10;

    public int BatchSize { get; init; } = HyperParameters.DefaultBatchSize;

    public double LearningRate { get; init; } = 0.05;

    public double Momentum { get; init; } = 0.9;

    public double WeightDecay { get; init; } = 2e-4;

    /// <summary>With <see cref="LearningRateSchedule.Step"/>: fractions of the run after which the learning rate is multiplied by 0.1 (SPAT's reference decays at epochs 75 and 90 of 100).</summary>
    public IReadOnlyList<double> DecayAt { get; init; } = [0.7, 0.9];

    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Step;

    /// <summary>
    /// Decay of an exponential moving average of the weights (e.g. 0.999), which replaces the
    /// weights at the end of the run; 0: none. The average warms up as min(d, (1 + t) / (10 + t)).
    /// Parameters only (batch-norm statistics are the last ones); snapshots keep it, so a resumed
    /// run continues it.
    /// </summary>
    public double EmaDecay { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>The learning rate at <paramref name="step"/> of <paramref name="totalSteps"/>.</summary>
    public double LearningRateAt(int step, int totalSteps)
    {
        var t = totalSteps <= 1 ? 0 : (double)step / totalSteps;
        return Schedule switch
        {
            LearningRateSchedule.Cosine => LearningRate * 0.5 * (1 + Math.Cos(Math.PI * t)),
            // Linear up to the peak at 30 % of the run, then linear down to zero.
            LearningRateSchedule.OneCycle => LearningRate * (t < 0.3 ? (t + (1.0 / totalSteps)) / 0.3 : (1 - t) / 0.7),
            _ => LearningRate * Math.Pow(0.1, DecayAt.Count(f => step >= (int)Math.Round(f * totalSteps))),
        };
    }
}

/// <summary>How the learning rate moves over a run.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant, ×0.1 at each of <see cref="TrainingOptions.DecayAt"/>.</summary>
    Step,

    /// <summary>Half a cosine from the learning rate down to zero.</summary>
    Cosine,

    /// <summary>Linear warm-up to the learning rate over the first 30 %, then linear down to zero.</summary>
    OneCycle,
}
