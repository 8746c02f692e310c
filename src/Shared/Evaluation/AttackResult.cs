namespace HardPair.Shared.Evaluation;

/// <summary>
/// Accuracy under one attack (or none, for clean accuracy) with the full confusion counts:
/// <c>Confusion[i][j]</c> = examples of class i predicted as j.
/// </summary>
public sealed record AttackResult(string Attack, double Epsilon, int Steps, double StepSize, double Accuracy, long[][] Confusion)
{
    public long Total => Confusion.Sum(row => row.Sum());
}
