using System.ComponentModel.DataAnnotations;

namespace HardPair.Storage.Checkpoints;

/// <summary>Where checkpoints are published and read.</summary>
public sealed class CheckpointStoreOptions : IValidatableObject
{
    public const string SectionName = "Checkpoints";

    /// <summary>The store folder, shared by the trainer (writer) and the inference service (reader).</summary>
    [Required(AllowEmptyStrings = false)]
    public string Path { get; set; } = "checkpoints";

    /// <summary>
    /// The image's bootstrap folder: the inference service copies its checkpoints into the store
    /// when the store holds no valid checkpoint, so that a fresh deployment serves at once, and
    /// both processes trust its versions without a signature (they are part of the image, not
    /// of the writable volume) — which is how a verify-only ECDSA key serves the copies it cannot
    /// sign and the trainer fine-tunes from them. Empty: none.
    /// </summary>
    public string? SeedFrom { get; set; }

    /// <summary>
    /// The key that checkpoints are signed with (trainer) and must verify with (inference):
    /// a PEM ECDSA P-256 key — the private key for the trainer, the public key or a certificate
    /// for the inference service, which then cannot sign — or an HMAC key shared by both, at least
    /// 32 characters (<see cref="CheckpointSigning"/>). <see cref="SigningKeyFile"/> wins when
    /// set. Neither set: unsigned checkpoints, none required.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>A file holding the signing key (a mounted Secret): the PEM key, or the HMAC key's text.</summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>The key in effect, empty when signing is off.</summary>
    public string ResolveSigningKey() => SecretValue.Resolve(SigningKey, SigningKeyFile);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(SigningKeyFile) && !File.Exists(SigningKeyFile))
        {
            yield return new ValidationResult($"SigningKeyFile '{SigningKeyFile}' does not exist.", [nameof(SigningKeyFile)]);
            yield break;
        }

        var key = ResolveSigningKey();
        string? problem = null;
        try
        {
            if (key.Length > 0)
            {
                CheckpointSigning.WithKey(key);
            }
        }
        catch (SigningKeyException ex)
        {
            problem = $"The checkpoint signing key is refused: {ex.Message}.";
        }

        if (problem is not null)
        {
            yield return new ValidationResult(problem, [nameof(SigningKey), nameof(SigningKeyFile)]);
        }
    }
}
