using System.ComponentModel.DataAnnotations;

namespace HardPair.Shared.Checkpoints;

/// <summary>Where checkpoints are published and read.</summary>
public sealed class CheckpointStoreOptions : IValidatableObject
{
    public const string SectionName = "Checkpoints";

    /// <summary>The store folder, shared by the trainer (writer) and the inference service (reader).</summary>
    [Required(AllowEmptyStrings = false)]
    public string Path { get; set; } = "checkpoints";

    /// <summary>
    /// A folder of checkpoints copied into the store when the store holds no valid checkpoint, so
    /// that a fresh deployment serves at once (the images ship the bootstrap checkpoint there).
    /// Empty: none.
    /// </summary>
    public string? SeedFrom { get; set; }

    /// <summary>
    /// The HMAC key that checkpoints are signed with (trainer) and must verify with (inference),
    /// at least 32 characters; <see cref="SigningKeyFile"/> wins when set. Neither set: unsigned
    /// checkpoints, none required.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>A file holding the signing key (a mounted Secret).</summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>The key in effect, empty when signing is off.</summary>
    public string ResolveSigningKey() => Rpc.BearerTokenOptions.Resolve(SigningKey, SigningKeyFile);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(SigningKeyFile) && !File.Exists(SigningKeyFile))
        {
            yield return new ValidationResult($"SigningKeyFile '{SigningKeyFile}' does not exist.", [nameof(SigningKeyFile)]);
            yield break;
        }

        var key = ResolveSigningKey();
        if (key.Length is > 0 and < CheckpointSigning.MinimumKeyLength)
        {
            yield return new ValidationResult(
                $"The checkpoint signing key needs at least {CheckpointSigning.MinimumKeyLength} characters (it has {key.Length}).",
                [nameof(SigningKey), nameof(SigningKeyFile)]);
        }
    }
}
