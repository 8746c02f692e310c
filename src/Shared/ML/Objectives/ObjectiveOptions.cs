using HardPair.ML.Models;
using HardPair.ML.Recipes;

namespace HardPair.ML.Objectives;

/// <summary>Hyper-parameters of the training objectives; their ranges and defaults are <see cref="HyperParameters"/>'.</summary>
public sealed record ObjectiveOptions
{
    /// <summary>L∞ radius of the training attack, inputs in [0, 1].</summary>
    public double Epsilon { get; init; } = HyperParameters.DefaultEpsilon;

    public int AttackSteps { get; init; } = HyperParameters.DefaultAttackSteps;

    public double AttackStepSize { get; init; } = 2 * HyperParameters.DefaultEpsilon / HyperParameters.DefaultAttackSteps;

    /// <summary>Trade-off β between the natural and the robust term (TRADES, SPAT).</summary>
    public double Beta { get; init; } = HyperParameters.DefaultBeta;

    /// <summary>Logit scale s; 8 for the cosine head, 1 for a linear head.</summary>
    public double Scale { get; init; } = HyperParameters.DefaultCosineScale;

    /// <summary>SPAT's margin m in the self-paced weights.</summary>
    public double Margin { get; init; } = HyperParameters.DefaultMargin;

    /// <summary>SPAT's n in the consistency loss Σ k (k + n).</summary>
    public double ConsistencyWeight { get; init; } = HyperParameters.DefaultConsistencyWeight;

    /// <summary>hardpair: stop the gradient through the self-paced weights α (circle-loss style).</summary>
    public bool DetachWeights { get; init; } = true;

    /// <summary>hardpair: clamp the self-paced weights α at 0 (circle-loss style).</summary>
    public bool ClampWeights { get; init; } = true;

    /// <summary>
    /// hardpair: margin added to the hard partner's logit in the self-paced loss (0: off), the
    /// partners being the run's own (<see cref="PartnerTracker"/>).
    /// </summary>
    public double PartnerMargin { get; init; }

    /// <summary>
    /// hardpair: the share of each batch whose training example is crafted toward its hard partner
    /// (PGD on z_partner − z_y) instead of on the cross-entropy (0: none).
    /// </summary>
    public double PartnerAttackShare { get; init; }

    public int Seed { get; init; } = 1;

    /// <summary>
    /// The defaults for <paramref name="method"/> on <paramref name="head"/>: β is hardpair's
    /// consistency weight (1) or TRADES'/SPAT's trade-off (6); the logit scale is 8 on the cosine
    /// head and 1 on a linear one.
    /// </summary>
    public static ObjectiveOptions DefaultsFor(string method, ClassifierHeadKind head) => new()
    {
        Beta = method == TrainingObjectives.HardPair ? HyperParameters.DefaultHardPairBeta : HyperParameters.DefaultBeta,
        Scale = head == ClassifierHeadKind.Cosine ? HyperParameters.DefaultCosineScale : 1,
    };

    public IReadOnlyDictionary<string, double> ToDictionary(string method)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal) { [HyperParameters.Scale.Name] = Scale };
        if (method != TrainingObjectives.Standard)
        {
            values[HyperParameters.Epsilon.Name] = Epsilon;
            values[HyperParameters.AttackSteps.Name] = AttackSteps;
            values[HyperParameters.AttackStepSize.Name] = AttackStepSize;
        }

        if (method is TrainingObjectives.Trades or TrainingObjectives.Spat or TrainingObjectives.HardPair)
        {
            values[HyperParameters.Beta.Name] = Beta;
        }

        if (method is TrainingObjectives.Spat or TrainingObjectives.HardPair)
        {
            values[HyperParameters.Margin.Name] = Margin;
            values[HyperParameters.ConsistencyWeight.Name] = ConsistencyWeight;
        }

        if (method == TrainingObjectives.HardPair)
        {
            values[HyperParameters.DetachWeights.Name] = DetachWeights ? 1 : 0;
            values[HyperParameters.ClampWeights.Name] = ClampWeights ? 1 : 0;
            values[HyperParameters.PartnerMargin.Name] = PartnerMargin;
            values[HyperParameters.PartnerAttackShare.Name] = PartnerAttackShare;
        }

        return values;
    }
}
