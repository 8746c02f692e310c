using System.Globalization;
using HardPair.Protos.V1;
using HardPair.TrainerSidecar.Options;

namespace HardPair.TrainerSidecar.Gate;

/// <summary>A model's accuracy on the gate's held-out images, clean and under the gate's attack.</summary>
public sealed record GateMeasurement(double CleanAccuracy, double RobustAccuracy);

/// <summary>
/// What the gate decided about a candidate, and on what numbers: <paramref name="Reason"/> is one
/// sentence naming the rule that passed or failed; <paramref name="ServingRobustAccuracy"/> and
/// <paramref name="ServingVersion"/> are null when nothing was serving.
/// </summary>
public sealed record GateVerdict(bool Accepted, string Reason, double CandidateRobustAccuracy, double CandidateCleanAccuracy, double? ServingRobustAccuracy, string? ServingVersion)
{
    /// <summary>The control API's form (-1 and an empty version when nothing was serving).</summary>
    public GateDecision ToContract() => new()
    {
        Accepted = Accepted,
        Reason = Reason,
        CandidateRobustAccuracy = CandidateRobustAccuracy,
        CandidateCleanAccuracy = CandidateCleanAccuracy,
        ServingRobustAccuracy = ServingRobustAccuracy ?? -1,
        ServingVersion = ServingVersion ?? "",
    };

    public static GateVerdict FromContract(GateDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        return new(
            decision.Accepted,
            decision.Reason,
            decision.CandidateRobustAccuracy,
            decision.CandidateCleanAccuracy,
            decision.ServingRobustAccuracy < 0 ? null : decision.ServingRobustAccuracy,
            decision.ServingVersion.Length == 0 ? null : decision.ServingVersion);
    }
}

/// <summary>
/// Publish only what is at least as robust as what serves (within δ), clean enough, and finite.
/// Both models are measured by the caller on the same held-out images with the same attack.
/// </summary>
public static class RobustnessGate
{
    public static GateVerdict Decide(GateMeasurement candidate, GateMeasurement? serving, string? servingVersion, bool finiteWeights, GateOptions options)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(options);
        GateVerdict Verdict(bool accepted, string reason) =>
            new(accepted, reason, candidate.RobustAccuracy, candidate.CleanAccuracy, serving?.RobustAccuracy, serving is null ? null : servingVersion);
        var c = CultureInfo.InvariantCulture;
        if (!finiteWeights || !double.IsFinite(candidate.CleanAccuracy) || !double.IsFinite(candidate.RobustAccuracy))
        {
            return Verdict(false, "rejected: the candidate's weights or outputs are not finite (NaN or infinity)");
        }

        if (candidate.CleanAccuracy < options.MinCleanAccuracy)
        {
            return Verdict(false, string.Create(c, $"rejected: clean accuracy {candidate.CleanAccuracy:P1} is below the floor of {options.MinCleanAccuracy:P1}"));
        }

        if (serving is not null && candidate.RobustAccuracy < serving.RobustAccuracy - options.MaxRobustDrop)
        {
            return Verdict(false, string.Create(
                c,
                $"rejected: robust accuracy {candidate.RobustAccuracy:P1} is more than δ = {options.MaxRobustDrop:P1} below the serving {servingVersion}'s {serving.RobustAccuracy:P1}"));
        }

        return Verdict(true, serving is null
            ? string.Create(c, $"accepted: nothing serves yet; clean {candidate.CleanAccuracy:P1} ≥ floor {options.MinCleanAccuracy:P1}, robust {candidate.RobustAccuracy:P1}")
            : string.Create(c, $"accepted: robust {candidate.RobustAccuracy:P1} vs serving {serving.RobustAccuracy:P1} (δ {options.MaxRobustDrop:P1}); clean {candidate.CleanAccuracy:P1} ≥ floor {options.MinCleanAccuracy:P1}"));
    }
}
