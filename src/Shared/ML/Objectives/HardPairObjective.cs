using HardPair.ML.Attacks;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>
/// Hard-pair reweighting on a PGD-AT base: the adversarial example is PGD on the cross-entropy
/// against the labels (as PGD-AT), the loss on it is the self-paced cross-entropy (s, m; by
/// default with α detached and clamped at 0, circle-loss style), plus β · the HCP-ECP consistency
/// between the clean and the adversarial prediction (n). β = 0 leaves the reweighted PGD-AT alone.
/// Two pair-aware options use the run's own hard partners (<see cref="PartnerTracker"/>, the
/// adversarial confusion of the batches so far): a partner margin δ raises the partner's logit by δ
/// in the self-paced loss; a partner attack share ρ crafts that share of each batch toward the
/// partner (PGD on z_partner − z_y). For the cosine head (the self-paced weights assume logits in
/// about [-1, 1]).
/// </summary>
public sealed class HardPairObjective : ITrainingObjective
{
    private readonly Pgd attack;
    private readonly Generator attackChoice;
    private PartnerTracker? partners;

    // The batch being attacked: which examples go toward their partner, and the partners.
    private Tensor? towardPartner;
    private Tensor? partnerOfEach;

    public HardPairObjective(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        attack = new Pgd(options.Epsilon, options.AttackSteps, options.AttackStepSize, AttackLoss, options.Seed);
        attackChoice = new Generator((ulong)options.Seed + 1);
    }

    public string Name => TrainingObjectives.HardPair;

    public ObjectiveOptions Options { get; }

    private bool TracksPartners => Options.PartnerMargin > 0 || Options.PartnerAttackShare > 0;

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(labels);
        using var partnerMap = partners is { IsEmpty: false } ? PartnerMap(labels.device) : null;
        Tensor adversarial;
        try
        {
            if (partnerMap is not null && Options.PartnerAttackShare > 0)
            {
                towardPartner = rand(labels.shape[0], generator: attackChoice).lt(Options.PartnerAttackShare).to(labels.device);
                partnerOfEach = partnerMap.index_select(0, labels);
            }

            adversarial = attack.Perturb(model, images, labels);
        }
        finally
        {
            towardPartner = null;
            partnerOfEach = null;
        }

        model.train();
        var adversarialLogits = model.forward(adversarial);
        var raised = adversarialLogits;
        if (TracksPartners)
        {
            partners ??= new PartnerTracker((int)adversarialLogits.shape[1]);
            partners.Add(adversarialLogits, labels);
            if (Options.PartnerMargin > 0)
            {
                using var updated = PartnerMap(labels.device);
                raised = Losses.WithPartnerMargin(adversarialLogits, labels, updated, Options.PartnerMargin);
            }
        }

        var natural = Losses.SelfPacedCrossEntropy(raised, labels, Options.Scale, Options.Margin, Options.DetachWeights, Options.ClampWeights);
        if (Options.Beta == 0)
        {
            return new ObjectiveLoss(natural, natural, null);
        }

        var robust = Losses.HardPairConsistency(model.forward(images), adversarialLogits, Options.Scale, Options.ConsistencyWeight);
        return new ObjectiveLoss(natural.add(robust.mul(Options.Beta)), natural, robust);
    }

    private Tensor PartnerMap(Device device) => tensor(partners!.Partners().Select(p => (long)p).ToArray(), device: device);

    /// <summary>The attack's per-example loss: the cross-entropy, or z_partner − z_y for the examples sent toward their partner.</summary>
    private Tensor AttackLoss(Tensor logits, Tensor labels)
    {
        var crossEntropy = nn.functional.cross_entropy(logits.mul(Options.Scale), labels, reduction: nn.Reduction.None);
        if (towardPartner is null || partnerOfEach is null)
        {
            return crossEntropy;
        }

        var pairMargin = logits.gather(1, partnerOfEach.unsqueeze(1)).sub(logits.gather(1, labels.unsqueeze(1))).squeeze(1);
        return where(towardPartner, pairMargin, crossEntropy);
    }
}
