using System.ComponentModel.DataAnnotations;

namespace HardPair.InferenceService.Admission;

/// <summary>
/// Per-client limits on classification: a token bucket of images per client. Off by default (as
/// in Triton, TorchServe and KServe): behind a Kubernetes Service, an ingress or a mesh proxy every
/// caller can share one source address, so a limit keyed by address would cap the whole
/// deployment. When on, clients are told apart by <see cref="Key"/>. One image costs one permit,
/// so a ClassifyBatch of 64 costs 64.
/// </summary>
public sealed class RateLimitOptions : IValidatableObject
{
    public const string SectionName = "RateLimit";

    /// <summary>Sustained images per second per client; 0 (the default) turns the limit off.</summary>
    [Range(0, 10_000_000)]
    public int ImagesPerSecond { get; set; }

    /// <summary>
    /// Bucket size: how many images a client may send at once after being idle. A single call with
    /// more images than this (a large ClassifyBatch) is refused, so keep it at least
    /// Inference:MaxRequestsPerBatchCall (256) when batches that large are expected.
    /// </summary>
    [Range(1, 10_000_000)]
    public int Burst { get; set; } = 4000;

    /// <summary>What a client is, for its bucket.</summary>
    public RateLimitKey Key { get; set; } = RateLimitKey.Identity;

    /// <summary>
    /// With <see cref="RateLimitKey.Identity"/>: a file of API keys, one <c>name:key</c> per line
    /// (blank lines and <c>#</c> comments skipped; keys of at least 16 characters). A call that
    /// sends one in the <c>x-api-key</c> header is that client; an unknown key is UNAUTHENTICATED.
    /// Re-read when the file changes (a rotated Kubernetes Secret). The keys name clients for the
    /// limit; they do not decide who may classify (mutual TLS or a network policy does that).
    /// </summary>
    public string? ApiKeysFile { get; set; }

    public bool Enabled => ImagesPerSecond > 0;

    /// <summary>Why the keys file cannot be used (checked at start, not at the first call), or null.</summary>
    private static string? KeysFileProblem(string path)
    {
        try
        {
            ApiKeys.Parse(File.ReadAllLines(path), path);
            return null;
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enum.IsDefined(Key))
        {
            yield return new ValidationResult($"Key must be Identity or PeerAddress, not {Key}.", [nameof(Key)]);
        }

        if (!string.IsNullOrEmpty(ApiKeysFile))
        {
            if (Key != RateLimitKey.Identity)
            {
                yield return new ValidationResult("ApiKeysFile needs Key = Identity: with PeerAddress the keys would be ignored.", [nameof(ApiKeysFile)]);
            }
            else if (!File.Exists(ApiKeysFile))
            {
                yield return new ValidationResult($"ApiKeysFile {ApiKeysFile} does not exist.", [nameof(ApiKeysFile)]);
            }
            else if (KeysFileProblem(ApiKeysFile) is { } problem)
            {
                yield return new ValidationResult($"ApiKeysFile: {problem}", [nameof(ApiKeysFile)]);
            }
        }
    }
}

/// <summary>How the rate limit tells clients apart (<see cref="RateLimitOptions.Key"/>).</summary>
public enum RateLimitKey
{
    /// <summary>
    /// An authenticated identity: the client certificate under mutual TLS (its SHA-256
    /// thumbprint), else the API key the call sends; callers with neither share one bucket.
    /// </summary>
    Identity,

    /// <summary>The peer's IP address: right only where clients reach the service directly, not through a proxy.</summary>
    PeerAddress,
}
