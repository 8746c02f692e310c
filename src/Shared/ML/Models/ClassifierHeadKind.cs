namespace HardPair.ML.Models;

/// <summary>The last layer of a classifier.</summary>
public enum ClassifierHeadKind
{
    /// <summary><c>z_j = cos(θ_j) + b_j</c>: the head SPAT's self-paced loss is defined on.</summary>
    Cosine,

    /// <summary>A plain affine layer, for baselines in their usual form.</summary>
    Linear,
}
