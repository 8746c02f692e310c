using HardPair.Storage.Data;

namespace HardPair.ML.Evaluation;

/// <summary>
/// Which data plays which part, the same for every run and checkpoint: a fixed 1/12 of the
/// training split (5 000 Fashion-MNIST images) is held out for calibration and gating and never
/// trained on; robustness is measured on the first images of the test split.
/// </summary>
public static class EvaluationProtocol
{
    public const double ValidationFraction = 1.0 / 12;
    public const int ValidationSeed = 0;
    public const int DefaultTestExamples = 1000;
    public const double DefaultEpsilon = 0.1;

    /// <summary>The training split, less the held-out validation part, and that part.</summary>
    public static (ImageDataset Train, ImageDataset Validation) HoldOut(ImageDataset trainingSplit)
    {
        ArgumentNullException.ThrowIfNull(trainingSplit);
        return trainingSplit.Split(ValidationFraction, ValidationSeed);
    }
}
