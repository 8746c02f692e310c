using System.ComponentModel.DataAnnotations;

namespace HardPair.InferenceService.Options;

/// <summary>
/// Per-client limits on classification: a token bucket of images per client (the client
/// certificate's subject under mTLS, else the peer address). One image costs one permit, so a
/// ClassifyBatch of 64 costs 64.
/// </summary>
public sealed class RateLimitOptions : IValidatableObject
{
    public const string SectionName = "RateLimit";

    /// <summary>Sustained images per second per client; 0 turns the limit off.</summary>
    [Range(0, 10_000_000)]
    public int ImagesPerSecond { get; set; } = 2000;

    /// <summary>
    /// Bucket size: how many images a client may send at once after being idle. A single call with
    /// more images than this (a large ClassifyBatch) is refused, so keep it at least
    /// Inference:MaxRequestsPerBatchCall (256) when batches that large are expected.
    /// </summary>
    [Range(1, 10_000_000)]
    public int Burst { get; set; } = 4000;

    public bool Enabled => ImagesPerSecond > 0;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Enabled && Burst < ImagesPerSecond / 10)
        {
            yield return new ValidationResult(
                $"Burst ({Burst}) must be at least a tenth of ImagesPerSecond ({ImagesPerSecond}): the bucket is refilled about every 100 ms.",
                [nameof(Burst)]);
        }
    }
}
