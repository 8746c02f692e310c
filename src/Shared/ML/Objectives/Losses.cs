using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>
/// The loss terms of the training objectives, as functions of logits (docs/SPAT.md). Batch means
/// throughout. <c>scale</c> is the logit scale s: cosine logits lie in about [-1, 1] and need
/// s ≈ 8 to give a useful softmax; use 1 for a linear head.
/// </summary>
public static class Losses
{
    /// <summary>Cross-entropy of <c>scale · z</c>.</summary>
    public static Tensor ScaledCrossEntropy(Tensor logits, Tensor labels, double scale) =>
        nn.functional.cross_entropy(logits.mul(scale), labels);

    /// <summary>
    /// SPAT's self-paced natural loss: the true logit is modulated by α_p = 1 + m − z_y, the others
    /// by α_n = z_j + m, then CE(s · α · z). α is neither detached nor clamped, as in the reference.
    /// </summary>
    public static Tensor SelfPacedCrossEntropy(Tensor logits, Tensor labels, double scale, double margin) =>
        SelfPacedCrossEntropy(logits, labels, scale, margin, detachWeights: false, clampWeights: false);

    /// <summary>
    /// The self-paced loss with the weights' two circle-loss variants: <paramref name="detachWeights"/>
    /// stops the gradient through α (so α only weighs each logit's pull; the product α·z no longer
    /// has an interior optimum at cos = 0.6), <paramref name="clampWeights"/> clamps α at 0 (a class
    /// already far enough gets no push).
    /// </summary>
    public static Tensor SelfPacedCrossEntropy(Tensor logits, Tensor labels, double scale, double margin, bool detachWeights, bool clampWeights)
    {
        using var scope = torch.NewDisposeScope();
        var onehot = nn.functional.one_hot(labels, logits.shape[1]).to(logits.dtype);
        var alphaPositive = logits.neg().add(1 + margin);
        var alphaNegative = logits.add(margin);
        var alpha = onehot.mul(alphaPositive).add(onehot.neg().add(1).mul(alphaNegative));
        if (clampWeights)
        {
            alpha = alpha.clamp_min(0);
        }

        if (detachWeights)
        {
            alpha = alpha.detach();
        }

        var modulated = alpha.mul(logits).mul(scale);
        return nn.functional.cross_entropy(modulated, labels).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The logits with <paramref name="margin"/> added to each example's partner class
    /// (<paramref name="partners"/>[y]): a loss on them asks the true logit to beat the partner's
    /// by that much more than any other class's — a wider boundary on the pair alone.
    /// </summary>
    public static Tensor WithPartnerMargin(Tensor logits, Tensor labels, Tensor partners, double margin)
    {
        using var scope = torch.NewDisposeScope();
        var partnerOfEach = partners.index_select(0, labels);
        var onPartner = nn.functional.one_hot(partnerOfEach, logits.shape[1]).to(logits.dtype);
        return logits.add(onPartner.mul(margin)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// SPAT's HCP-ECP consistency loss: with p = softmax(s·z), q = softmax(s·z′) and
    /// k = p (log p − log q), the batch mean of Σ_j k (k + n) = Σ_j k² + n · KL(p ‖ q).
    /// </summary>
    public static Tensor HardPairConsistency(Tensor cleanLogits, Tensor adversarialLogits, double scale, double n)
    {
        using var scope = torch.NewDisposeScope();
        var logP = nn.functional.log_softmax(cleanLogits.mul(scale), 1);
        var logQ = nn.functional.log_softmax(adversarialLogits.mul(scale), 1);
        var k = logP.exp().mul(logP.sub(logQ));
        return k.mul(k.add(n)).sum(1).mean().MoveToOuterDisposeScope();
    }

    /// <summary>TRADES' robust term: KL(softmax(s·z) ‖ softmax(s·z′)) summed over classes, mean over the batch.</summary>
    public static Tensor TradesKl(Tensor cleanLogits, Tensor adversarialLogits, double scale)
    {
        using var scope = torch.NewDisposeScope();
        var logP = nn.functional.log_softmax(cleanLogits.mul(scale), 1);
        var logQ = nn.functional.log_softmax(adversarialLogits.mul(scale), 1);
        return logP.exp().mul(logP.sub(logQ)).sum(1).mean().MoveToOuterDisposeScope();
    }
}
