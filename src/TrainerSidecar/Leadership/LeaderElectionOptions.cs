using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace HardPair.TrainerSidecar.Leadership;

/// <summary>With several replicas, a Kubernetes Lease decides which sidecar trains.</summary>
public sealed class LeaderElectionOptions
{
    public const string SectionName = "LeaderElection";

    public bool Enabled { get; set; }

    public string LeaseName { get; set; } = "hardpair-trainer";

    /// <summary>The Lease's namespace (the pod's, from the downward API).</summary>
    public string Namespace { get; set; } = "default";

    /// <summary>This sidecar's name in the Lease (the pod name); empty: the host name.</summary>
    public string? Identity { get; set; }

    /// <summary>How long a lease holds without renewal, e.g. <c>15s</c>; renewals give up after 2/3 of it.</summary>
    [RegularExpression("^[0-9]+s$", ErrorMessage = "LeaderElection:LeaseDuration must be whole seconds like 15s.")]
    public string LeaseDuration { get; set; } = "15s";

    public TimeSpan LeaseDurationTime => TimeSpan.FromSeconds(int.Parse(LeaseDuration.AsSpan(0, LeaseDuration.Length - 1), CultureInfo.InvariantCulture));

    public string ResolveIdentity() => string.IsNullOrWhiteSpace(Identity) ? Environment.MachineName : Identity;
}
