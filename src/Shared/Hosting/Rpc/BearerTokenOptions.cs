using System.ComponentModel.DataAnnotations;
using HardPair.Storage;

namespace HardPair.Hosting.Rpc;

/// <summary>Who may call an authenticated API: holders of the bearer token, given inline or in a file (a mounted secret).</summary>
public sealed class BearerTokenOptions : IValidatableObject
{
    public const int MinimumLength = 16;

    public string? Token { get; set; }

    public string? TokenFile { get; set; }

    /// <summary>The token in effect: the file's content (trimmed) when a file is named, else <see cref="Token"/>.</summary>
    public string ResolveToken() => SecretValue.Resolve(Token, TokenFile);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(TokenFile) && !File.Exists(TokenFile))
        {
            yield return new ValidationResult($"TokenFile '{TokenFile}' does not exist.", [nameof(TokenFile)]);
            yield break;
        }

        if (ResolveToken().Length < MinimumLength)
        {
            yield return new ValidationResult(
                $"The API needs a bearer token of at least {MinimumLength} characters: set Token or TokenFile.",
                [nameof(Token), nameof(TokenFile)]);
        }
    }
}
