using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// The per-example worst case over several attacks, as AutoAttack takes it: every point starts
/// as its clean image, standing if the model classifies it correctly; each attack runs only on the
/// points still standing, and an adversarial example that fools the model replaces the image and
/// knocks the point down for good. Its tensors live in the caller's dispose scope and are updated
/// in place.
/// </summary>
internal sealed class WorstCase
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly Tensor images;
    private readonly Tensor labels;
    private readonly Tensor standing;

    public WorstCase(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        this.model = model;
        this.images = images;
        this.labels = labels;
        Examples = images.detach().clone();
        using var noGrad = torch.no_grad();
        standing = model.forward(images).argmax(1).eq(labels);
    }

    /// <summary>The worst example found so far for every point (the clean image where none fooled the model).</summary>
    public Tensor Examples { get; }

    public bool AnyStanding => standing.any().item<bool>();

    /// <summary>
    /// Runs <paramref name="attack"/> (images, labels, their indices → adversarial images) on the
    /// standing points and keeps what fools the model. Returns the points attacked and broken.
    /// </summary>
    public (long Attacked, long Broken) AttackStanding(Func<Tensor, Tensor, Tensor, Tensor> attack)
    {
        ArgumentNullException.ThrowIfNull(attack);
        using var scope = torch.NewDisposeScope();
        var indices = standing.nonzero().squeeze(1);
        var attacked = indices.shape[0];
        if (attacked == 0)
        {
            return (0, 0);
        }

        var y = labels.index_select(0, indices);
        var adversarial = attack(images.index_select(0, indices), y, indices);
        Tensor fooled;
        using (torch.no_grad())
        {
            fooled = model.forward(adversarial).argmax(1).ne(y);
        }

        var which = fooled.nonzero().squeeze(1);
        var broken = which.shape[0];
        if (broken > 0)
        {
            var brokenIndices = indices.index_select(0, which);
            Examples.index_copy_(0, brokenIndices, adversarial.index_select(0, which).to(Examples.dtype));
            standing.index_fill_(0, brokenIndices, false);
        }

        return (attacked, broken);
    }
}
