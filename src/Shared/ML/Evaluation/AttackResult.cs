using HardPair.ML.Attacks;

namespace HardPair.ML.Evaluation;

/// <summary>
/// Accuracy under one attack or suite (or none, for clean accuracy) with the full confusion
/// counts: <c>Confusion[i][j]</c> = examples of class i predicted as j (under a suite, at the
/// example that broke each point).
/// </summary>
public sealed record AttackResult(string Attack, double Epsilon, int Steps, double StepSize, double Accuracy, long[][] Confusion)
{
    public long Total => Confusion.Sum(row => row.Sum());

    /// <summary>Wall time of the attack and the forward passes that scored it.</summary>
    public double Seconds { get; init; }

    /// <summary>For a suite: what each of its attacks attacked, broke and cost; null for a single attack.</summary>
    public IReadOnlyList<SuiteStage>? Stages { get; init; }

    /// <summary>True when this is a suite's per-example worst case.</summary>
    public bool IsSuite => AttackCatalog.IsSuite(Attack);

    /// <summary>Accuracy on class <paramref name="label"/>'s examples alone.</summary>
    public double ClassAccuracy(int label)
    {
        var row = Confusion[label];
        var total = row.Sum();
        return total == 0 ? 0 : (double)row[label] / total;
    }
}
