using System.ComponentModel.DataAnnotations;

namespace HardPair.Shared.Training;

/// <summary>The optimiser and schedule of a training run (SGD with momentum, step decay).</summary>
public sealed record TrainingOptions
{
    [Range(0.01, 10_000)]
    public double Epochs { get; init; } = 10;

    [Range(1, 4096)]
    public int BatchSize { get; init; } = 128;

    [Range(1e-6, 10)]
    public double LearningRate { get; init; } = 0.05;

    [Range(0, 1)]
    public double Momentum { get; init; } = 0.9;

    [Range(0, 1)]
    public double WeightDecay { get; init; } = 2e-4;

    /// <summary>Fractions of the run after which the learning rate is multiplied by 0.1 (the reference: 0.75 and 0.9).</summary>
    public IReadOnlyList<double> DecayAt { get; init; } = [0.7, 0.9];

    public int Seed { get; init; } = 1;
}
