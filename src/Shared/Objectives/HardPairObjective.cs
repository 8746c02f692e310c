using HardPair.Shared.Attacks;
using static TorchSharp.torch;

namespace HardPair.Shared.Objectives;

/// <summary>
/// Hard-pair reweighting on a PGD-AT base: the adversarial example is PGD on the cross-entropy
/// against the labels (as PGD-AT), the loss on it is the self-paced cross-entropy (s, m; by
/// default with α detached and clamped at 0, circle-loss style), plus β · the HCP-ECP consistency
/// between the clean and the adversarial prediction (n). β = 0 leaves the reweighted PGD-AT alone.
/// With a partner margin δ > 0, the self-paced loss is taken on logits whose hard-partner entry is
/// raised by δ, the partners being the run's own adversarial confusion so far (<see cref="PartnerTracker"/>,
/// this batch included). For the cosine head (the self-paced weights assume logits in about [-1, 1]).
/// </summary>
public sealed class HardPairObjective : ITrainingObjective
{
    private readonly Pgd attack;
    private PartnerTracker? partners;

    public HardPairObjective(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        attack = new Pgd(options.Epsilon, options.AttackSteps, options.AttackStepSize, options.Scale, AttackLoss.CrossEntropy, options.Seed);
    }

    public string Name => TrainingObjectives.HardPair;

    public ObjectiveOptions Options { get; }

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        var adversarial = attack.Perturb(model, images, labels);
        model.train();
        var adversarialLogits = model.forward(adversarial);
        var natural = Losses.SelfPacedCrossEntropy(WithPartnerMargin(adversarialLogits, labels), labels, Options.Scale, Options.Margin, Options.DetachWeights, Options.ClampWeights);
        if (Options.Beta == 0)
        {
            return new ObjectiveLoss(natural, natural, null);
        }

        var robust = Losses.HardPairConsistency(model.forward(images), adversarialLogits, Options.Scale, Options.ConsistencyWeight);
        return new ObjectiveLoss(natural.add(robust.mul(Options.Beta)), natural, robust);
    }

    private Tensor WithPartnerMargin(Tensor adversarialLogits, Tensor labels)
    {
        if (Options.PartnerMargin == 0)
        {
            return adversarialLogits;
        }

        partners ??= new PartnerTracker((int)adversarialLogits.shape[1]);
        partners.Add(adversarialLogits, labels);
        using var map = tensor(partners.Partners().Select(p => (long)p).ToArray(), device: adversarialLogits.device);
        return Losses.WithPartnerMargin(adversarialLogits, labels, map, Options.PartnerMargin);
    }
}
