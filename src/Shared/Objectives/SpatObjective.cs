using HardPair.Shared.Attacks;
using static TorchSharp.torch;

namespace HardPair.Shared.Objectives;

/// <summary>
/// SPAT (Hou et al. 2023): self-paced natural loss (s, m) + β · HCP-ECP consistency loss (n),
/// the attack maximising the consistency loss (SPAT.md).
/// </summary>
public sealed class SpatObjective : ITrainingObjective
{
    private readonly ConsistencyAttack attack;

    public SpatObjective(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        attack = new ConsistencyAttack(
            options.Epsilon,
            options.AttackSteps,
            options.AttackStepSize,
            (clean, adversarial) => Losses.HardPairConsistency(clean, adversarial, options.Scale, options.ConsistencyWeight),
            options.Seed);
    }

    public string Name => TrainingObjectives.Spat;

    public ObjectiveOptions Options { get; }

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        var adversarial = attack.Perturb(model, images);
        model.train();
        var clean = model.forward(images);
        var natural = Losses.SelfPacedCrossEntropy(clean, labels, Options.Scale, Options.Margin);
        var robust = Losses.HardPairConsistency(clean, model.forward(adversarial), Options.Scale, Options.ConsistencyWeight);
        return new ObjectiveLoss(natural.add(robust.mul(Options.Beta)), natural, robust);
    }
}
