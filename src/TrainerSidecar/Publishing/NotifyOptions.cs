using System.ComponentModel.DataAnnotations;

namespace HardPair.TrainerSidecar.Publishing;

/// <summary>Where and how the sidecar tells the inference service about a publish.</summary>
public sealed class NotifyOptions
{
    public const string SectionName = "Notify";

    /// <summary>The inference service's gRPC address (its admin endpoint); empty: do not notify.</summary>
    public string? InferenceAddress { get; set; }

    /// <summary>Bearer token for the inference service's admin API.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding that token (a mounted secret); wins over <see cref="Token"/>.</summary>
    public string? TokenFile { get; set; }

    public string ResolveToken() => HardPair.Storage.SecretValue.Resolve(Token, TokenFile);

    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    [Range(0, 20)]
    public int Retries { get; set; } = 4;

    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    [Range(2, 1000)]
    public int BreakerMinimumThroughput { get; set; } = 4;

    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromMinutes(1);

    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);
}
