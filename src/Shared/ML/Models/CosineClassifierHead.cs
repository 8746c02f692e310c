using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HardPair.ML.Models;

/// <summary>
/// Cosine classifier (docs/SPAT.md): features and weight rows are L2-normalised, so logits are
/// <c>cos(θ_j) + b_j</c>, roughly in [-1, 1]. The weight rows are normalised inside the graph
/// on every forward rather than renormalised in place as the reference code does: the two give
/// the same logits and this keeps the stored weights untouched by inference.
/// </summary>
public sealed class CosineClassifierHead : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;

    public CosineClassifierHead(int features, int classes)
        : base(nameof(CosineClassifierHead))
    {
        weight = new Parameter(torch.empty(classes, features));
        bias = new Parameter(torch.zeros(classes));
        using (torch.no_grad())
        {
            nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        }

        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var features = nn.functional.normalize(input, p: 2, dim: 1, eps: 1e-12);
        var rows = nn.functional.normalize(weight, p: 2, dim: 1, eps: 1e-12);
        return features.matmul(rows.t()).add(bias).MoveToOuterDisposeScope();
    }
}
