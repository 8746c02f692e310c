using System.Globalization;
using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Options;

namespace HardPair.TrainerSidecar.Gate;

/// <summary>A model's accuracy on the gate's held-out images, clean and under the gate's attack.</summary>
public sealed record GateMeasurement(double CleanAccuracy, double RobustAccuracy);

/// <summary>
/// Publish only what is at least as robust as what serves (within δ), clean enough, and finite.
/// Both models are measured by the caller on the same held-out images with the same attack.
/// </summary>
public static class RobustnessGate
{
    public static GateDecision Decide(GateMeasurement candidate, GateMeasurement? serving, string? servingVersion, bool finiteWeights, GateOptions options)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(options);
        var decision = new GateDecision
        {
            CandidateRobustAccuracy = candidate.RobustAccuracy,
            CandidateCleanAccuracy = candidate.CleanAccuracy,
            ServingRobustAccuracy = serving?.RobustAccuracy ?? -1,
            ServingVersion = servingVersion ?? "",
        };
        var c = CultureInfo.InvariantCulture;
        if (!finiteWeights || !double.IsFinite(candidate.CleanAccuracy) || !double.IsFinite(candidate.RobustAccuracy))
        {
            decision.Reason = "rejected: the candidate's weights or outputs are not finite (NaN or infinity)";
            return decision;
        }

        if (candidate.CleanAccuracy < options.MinCleanAccuracy)
        {
            decision.Reason = string.Create(c, $"rejected: clean accuracy {candidate.CleanAccuracy:P1} is below the floor of {options.MinCleanAccuracy:P1}");
            return decision;
        }

        if (serving is not null && candidate.RobustAccuracy < serving.RobustAccuracy - options.MaxRobustDrop)
        {
            decision.Reason = string.Create(
                c,
                $"rejected: robust accuracy {candidate.RobustAccuracy:P1} is more than δ = {options.MaxRobustDrop:P1} below the serving {servingVersion}'s {serving.RobustAccuracy:P1}");
            return decision;
        }

        decision.Accepted = true;
        decision.Reason = serving is null
            ? string.Create(c, $"accepted: nothing serves yet; clean {candidate.CleanAccuracy:P1} ≥ floor {options.MinCleanAccuracy:P1}, robust {candidate.RobustAccuracy:P1}")
            : string.Create(c, $"accepted: robust {candidate.RobustAccuracy:P1} vs serving {serving.RobustAccuracy:P1} (δ {options.MaxRobustDrop:P1}); clean {candidate.CleanAccuracy:P1} ≥ floor {options.MinCleanAccuracy:P1}");
        return decision;
    }
}
