using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>What every attack needs: input gradients that leave the model alone, and the projection.</summary>
public static class AttackMath
{
    /// <summary>
    /// ∂loss/∂x for <paramref name="loss"/> of the model's logits at x. Uses autograd.grad, so
    /// no gradient is accumulated into the model's parameters.
    /// </summary>
    public static Tensor InputGradient(nn.Module<Tensor, Tensor> model, Tensor x, Func<Tensor, Tensor> loss)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        var input = x.detach().requires_grad_(true);
        var value = loss(model.forward(input));
        var gradient = torch.autograd.grad([value], [input])[0];
        return gradient.detach().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One forward and backward pass: the logits at x, the per-example losses and their summed
    /// input gradient. Attacks use the logits to track success without another forward.
    /// </summary>
    public static (Tensor Logits, Tensor Losses, Tensor Gradient) Evaluate(nn.Module<Tensor, Tensor> model, Tensor x, Func<Tensor, Tensor> perExampleLoss)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(perExampleLoss);
        using var scope = torch.NewDisposeScope();
        using var grad = torch.enable_grad();
        var input = x.detach().requires_grad_(true);
        var logits = model.forward(input);
        var losses = perExampleLoss(logits);
        var gradient = torch.autograd.grad([losses.sum()], [input])[0];
        return (logits.detach().MoveToOuterDisposeScope(), losses.detach().MoveToOuterDisposeScope(), gradient.detach().MoveToOuterDisposeScope());
    }

    /// <summary>Per-example loss an attack climbs.</summary>
    public static Tensor PerExampleLoss(AttackLoss loss, Tensor logits, Tensor labels, double logitScale) => loss == AttackLoss.Margin
        ? Margin(logits, labels)
        : nn.functional.cross_entropy(logits.mul(logitScale), labels, reduction: nn.Reduction.None);

    /// <summary>Where <paramref name="mask"/> (one flag per example) holds, <paramref name="then"/>; else <paramref name="otherwise"/>.</summary>
    public static Tensor Select(Tensor mask, Tensor then, Tensor otherwise)
    {
        var shape = new long[then.dim()];
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return torch.where(mask.view(shape), then, otherwise);
    }

    /// <summary>Projects onto the ε-ball around <paramref name="origin"/> intersected with [0, 1].</summary>
    public static Tensor Project(Tensor candidate, Tensor origin, double epsilon)
    {
        using var scope = torch.NewDisposeScope();
        var projected = torch.minimum(torch.maximum(candidate, origin.sub(epsilon)), origin.add(epsilon)).clamp(0, 1);
        return projected.detach().MoveToOuterDisposeScope();
    }

    /// <summary>A uniform random point of the ε-ball (within [0, 1]).</summary>
    public static Tensor RandomStart(Tensor origin, double epsilon, Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        var noise = torch.rand(origin.shape, dtype: origin.dtype, generator: generator).to(origin.device).mul(2 * epsilon).sub(epsilon);
        return Project(origin.add(noise), origin, epsilon).MoveToOuterDisposeScope();
    }

    /// <summary>CW margin on logits: max_{j≠y} z_j − z_y per example (positive means misclassified).</summary>
    public static Tensor Margin(Tensor logits, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var onehot = nn.functional.one_hot(labels, logits.shape[1]).to(ScalarType.Bool);
        var trueLogit = logits.masked_select(onehot);
        var otherBest = logits.masked_fill(onehot, double.NegativeInfinity).max(1).values;
        return otherBest.sub(trueLogit).MoveToOuterDisposeScope();
    }
}
