using System.ComponentModel.DataAnnotations;

namespace HardPair.ML.Objectives;

/// <summary>Hyper-parameters of the training objectives; defaults are this project's (docs/SPAT.md).</summary>
public sealed record ObjectiveOptions
{
    /// <summary>L∞ radius of the training attack, inputs in [0, 1].</summary>
    [Range(0.0, 1.0)]
    public double Epsilon { get; init; } = 0.1;

    [Range(1, 1000)]
    public int AttackSteps { get; init; } = 10;

    [Range(1e-6, 1.0)]
    public double AttackStepSize { get; init; } = 0.02;

    /// <summary>Trade-off β between the natural and the robust term (TRADES, SPAT).</summary>
    [Range(0.0, 1000.0)]
    public double Beta { get; init; } = 6.0;

    /// <summary>Logit scale s; 8 for the cosine head, 1 for a linear head.</summary>
    [Range(1e-3, 1000.0)]
    public double Scale { get; init; } = 8.0;

    /// <summary>SPAT's margin m in the self-paced weights.</summary>
    [Range(0.0, 10.0)]
    public double Margin { get; init; } = 0.2;

    /// <summary>SPAT's n in the consistency loss Σ k (k + n).</summary>
    [Range(0.0, 100.0)]
    public double ConsistencyWeight { get; init; } = 0.2;

    /// <summary>hardpair: stop the gradient through the self-paced weights α (circle-loss style).</summary>
    public bool DetachWeights { get; init; } = true;

    /// <summary>hardpair: clamp the self-paced weights α at 0 (circle-loss style).</summary>
    public bool ClampWeights { get; init; } = true;

    /// <summary>
    /// hardpair: margin added to the hard partner's logit in the self-paced loss (0: off), the
    /// partners being the run's own (<see cref="PartnerTracker"/>).
    /// </summary>
    [Range(0.0, 10.0)]
    public double PartnerMargin { get; init; }

    /// <summary>
    /// hardpair: the share of each batch whose training example is crafted toward its hard partner
    /// (PGD on z_partner − z_y) instead of on the cross-entropy (0: none).
    /// </summary>
    [Range(0.0, 1.0)]
    public double PartnerAttackShare { get; init; }

    public int Seed { get; init; } = 1;

    public IReadOnlyDictionary<string, double> ToDictionary(string method)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal) { ["scale"] = Scale };
        if (method != TrainingObjectives.Standard)
        {
            values["epsilon"] = Epsilon;
            values["attackSteps"] = AttackSteps;
            values["attackStepSize"] = AttackStepSize;
        }

        if (method is TrainingObjectives.Trades or TrainingObjectives.Spat or TrainingObjectives.HardPair)
        {
            values["beta"] = Beta;
        }

        if (method is TrainingObjectives.Spat or TrainingObjectives.HardPair)
        {
            values["margin"] = Margin;
            values["consistencyWeight"] = ConsistencyWeight;
        }

        if (method == TrainingObjectives.HardPair)
        {
            values["detachWeights"] = DetachWeights ? 1 : 0;
            values["clampWeights"] = ClampWeights ? 1 : 0;
            values["partnerMargin"] = PartnerMargin;
            values["partnerAttackShare"] = PartnerAttackShare;
        }

        return values;
    }
}
