namespace HardPair.Shared.Attacks;

/// <summary>What a PGD attack climbs.</summary>
public enum AttackLoss
{
    /// <summary>Cross-entropy of s·z (Madry et al.).</summary>
    CrossEntropy,

    /// <summary>CW margin max_{j≠y} z_j − z_y (Carlini &amp; Wagner's loss with L∞ PGD steps).</summary>
    Margin,
}
