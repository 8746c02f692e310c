using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// The difference-of-logits-ratio losses of Croce &amp; Hein (2020), per example, to be maximised.
/// With z sorted in decreasing order as z_π1 ≥ z_π2 ≥ …: untargeted −(z_y − max_{j≠y} z_j) /
/// (z_π1 − z_π3 + 10⁻¹²); targeted towards t, −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 10⁻¹²).
/// Both are invariant to scaling and shifting the logits.
/// </summary>
public static class DlrLoss
{
    private const double Floor = 1e-12;

    public static Tensor Untargeted(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentOutOfRangeException.ThrowIfLessThan(logits.shape[1], 3L, nameof(logits));
        using var scope = torch.NewDisposeScope();
        var sorted = logits.sort(1, descending: true).Values;
        var margin = AttackMath.Margin(logits, labels);
        return margin.div(sorted[.., 0].sub(sorted[.., 2]).add(Floor)).MoveToOuterDisposeScope();
    }

    public static Tensor Targeted(Tensor logits, Tensor labels, Tensor targets)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfLessThan(logits.shape[1], 4L, nameof(logits));
        using var scope = torch.NewDisposeScope();
        var sorted = logits.sort(1, descending: true).Values;
        var trueLogit = logits.gather(1, labels.unsqueeze(1)).squeeze(1);
        var targetLogit = logits.gather(1, targets.unsqueeze(1)).squeeze(1);
        var spread = sorted[.., 0].sub(sorted[.., 2].add(sorted[.., 3]).mul(0.5)).add(Floor);
        return targetLogit.sub(trueLogit).div(spread).MoveToOuterDisposeScope();
    }
}
