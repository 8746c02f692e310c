using System.ComponentModel.DataAnnotations;

namespace HardPair.InferenceService.Options;

/// <summary>Where the trainer sidecar's control API is, for the forwarded admin calls.</summary>
public sealed class SidecarOptions
{
    public const string SectionName = "Sidecar";

    [Required]
    [Url]
    public string Address { get; set; } = "http://127.0.0.1:50061";

    /// <summary>The sidecar's control token (its <c>Control:Token</c>); empty: sent without one.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding that token (a mounted secret); wins over <see cref="Token"/>.</summary>
    public string? TokenFile { get; set; }

    public string ResolveToken() => HardPair.Storage.SecretValue.Resolve(Token, TokenFile);

    /// <summary>Per attempt.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(3);

    [Range(0, 10)]
    public int Retries { get; set; } = 2;

    /// <summary>
    /// How long the circuit stays open (calls refused at once, UNAVAILABLE) once at least half of
    /// four or more attempts within 30 s failed transiently; then one trial call decides whether
    /// it closes again.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(10);
}
