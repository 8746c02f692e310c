namespace HardPair.ML.Attacks;

/// <summary>What a gradient attack climbs.</summary>
public enum AttackLoss
{
    /// <summary>Cross-entropy of s·z (Madry et al.).</summary>
    CrossEntropy,

    /// <summary>CW margin max_{j≠y} z_j − z_y (Carlini &amp; Wagner's loss with L∞ PGD steps).</summary>
    Margin,

    /// <summary>
    /// Croce &amp; Hein's difference of logits ratio, −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3): the
    /// margin divided by the spread of the top logits, so it does not change when the logits are
    /// scaled or shifted (a cosine head's s, a saturating output) and its gradient does not vanish.
    /// </summary>
    Dlr,
}
