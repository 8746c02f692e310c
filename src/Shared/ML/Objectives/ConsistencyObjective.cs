using HardPair.ML.Attacks;
using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>
/// natural(z, y) + β · robust(z, z′), with x′ crafted by maximising robust(z, z′) (labels unused).
/// TRADES (Zhang et al. 2019): CE(s·z, y) + β · KL(p ‖ q).
/// SPAT (Hou et al. 2023): self-paced CE (s, m) + β · HCP-ECP consistency (n), docs/SPAT.md.
/// </summary>
public sealed class ConsistencyObjective : ITrainingObjective
{
    private readonly Func<Tensor, Tensor, Tensor> natural;
    private readonly Func<Tensor, Tensor, Tensor> robust;
    private readonly ConsistencyAttack attack;

    private ConsistencyObjective(string name, ObjectiveOptions options, Func<Tensor, Tensor, Tensor> natural, Func<Tensor, Tensor, Tensor> robust)
    {
        Name = name;
        Options = options;
        this.natural = natural;
        this.robust = robust;
        attack = new ConsistencyAttack(options.Epsilon, options.AttackSteps, options.AttackStepSize, robust, options.Seed);
    }

    public string Name { get; }

    public ObjectiveOptions Options { get; }

    public static ConsistencyObjective Trades(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(
            TrainingObjectives.Trades,
            options,
            (logits, labels) => Losses.ScaledCrossEntropy(logits, labels, options.Scale),
            (clean, adversarial) => Losses.TradesKl(clean, adversarial, options.Scale));
    }

    public static ConsistencyObjective Spat(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(
            TrainingObjectives.Spat,
            options,
            (logits, labels) => Losses.SelfPacedCrossEntropy(logits, labels, options.Scale, options.Margin),
            (clean, adversarial) => Losses.HardPairConsistency(clean, adversarial, options.Scale, options.ConsistencyWeight));
    }

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        var adversarial = attack.Perturb(model, images);
        model.train();
        var clean = model.forward(images);
        var naturalLoss = natural(clean, labels);
        var robustLoss = robust(clean, model.forward(adversarial));
        return new ObjectiveLoss(naturalLoss.add(robustLoss.mul(Options.Beta)), naturalLoss, robustLoss);
    }
}
