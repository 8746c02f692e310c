using HardPair.ML.Attacks;
using HardPair.Storage.Data;

namespace HardPair.ML.Evaluation;

/// <summary>What <see cref="ModelEvaluator"/> measures, and on which data.</summary>
public sealed record EvaluationPlan
{
    /// <summary>Where clean accuracy and calibration error are measured, and (its first <see cref="RobustExamples"/> images) robustness.</summary>
    public required ImageDataset Test { get; init; }

    /// <summary>
    /// How many of the first test images the attacks run on; null for all. Croce et al.'s
    /// protocol: clean accuracy on all 10 000, the suite on the first 1 000.
    /// </summary>
    public int? RobustExamples { get; init; }

    /// <summary>Held-out data the calibration temperature is fitted on.</summary>
    public required ImageDataset Validation { get; init; }

    /// <summary>Names from <see cref="AttackCatalog"/>; <c>clean</c> is always measured.</summary>
    public IReadOnlyList<string> Attacks { get; init; } = AttackCatalog.DefaultEvaluation;

    public double Epsilon { get; init; } = EvaluationProtocol.DefaultEpsilon;

    /// <summary>The scale s the model was trained with; attacks climb the loss of s·z and the uncalibrated baseline is softmax(s·z).</summary>
    public double LogitScale { get; init; } = 1;

    public int BatchSize { get; init; } = 250;

    public long Seed { get; init; }
}
