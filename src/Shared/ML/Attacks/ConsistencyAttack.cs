using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// The TRADES-style training attack (labels unused): from x + 0.001·N(0, I), K sign steps that
/// maximise a divergence between the model's clean logits (fixed) and its logits at x′, each
/// projected onto the ε-ball and [0, 1]. TRADES climbs KL, SPAT its HCP-ECP loss.
/// </summary>
public sealed class ConsistencyAttack
{
    private readonly Func<Tensor, Tensor, Tensor> divergence;
    private readonly Generator generator;

    /// <param name="divergence">(clean logits, adversarial logits) → scalar loss to maximise.</param>
    public ConsistencyAttack(double epsilon, int steps, double stepSize, Func<Tensor, Tensor, Tensor> divergence, long seed)
    {
        Epsilon = epsilon;
        Steps = steps;
        StepSize = stepSize;
        this.divergence = divergence;
        generator = new Generator((ulong)seed);
    }

    public double Epsilon { get; }

    public int Steps { get; }

    public double StepSize { get; }

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images)
    {
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        Tensor clean;
        using (torch.no_grad())
        {
            clean = model.forward(images).detach();
        }

        var noise = torch.randn(images.shape, dtype: images.dtype, generator: generator).to(images.device);
        var x = images.add(noise.mul(0.001)).detach();
        for (var step = 0; step < Steps; step++)
        {
            var gradient = AttackMath.InputGradient(model, x, logits => divergence(clean, logits));
            x = AttackMath.Project(x.add(gradient.sign().mul(StepSize)), images, Epsilon);
        }

        return AttackMath.Project(x, images, Epsilon).MoveToOuterDisposeScope();
    }
}
