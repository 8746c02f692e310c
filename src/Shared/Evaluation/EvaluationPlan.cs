using HardPair.Shared.Attacks;
using HardPair.Shared.Data;

namespace HardPair.Shared.Evaluation;

/// <summary>What <see cref="ModelEvaluator"/> measures, and on which data.</summary>
public sealed record EvaluationPlan
{
    /// <summary>Where accuracy, robustness and calibration error are measured.</summary>
    public required ImageDataset Test { get; init; }

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
