using System.ComponentModel.DataAnnotations;

namespace HardPair.TrainerSidecar.Security;

/// <summary>Who may call the control API: holders of the bearer token, given inline or in a file (a mounted secret).</summary>
public sealed class ControlOptions : IValidatableObject
{
    public const string SectionName = "Control";

    public string? Token { get; set; }

    public string? TokenFile { get; set; }

    /// <summary>The token in effect: the file's content (trimmed) when a file is named, else <see cref="Token"/>.</summary>
    public string ResolveToken() =>
        !string.IsNullOrWhiteSpace(TokenFile) ? File.ReadAllText(TokenFile).Trim() : Token?.Trim() ?? "";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrWhiteSpace(TokenFile) && !File.Exists(TokenFile))
        {
            yield return new ValidationResult($"Control:TokenFile '{TokenFile}' does not exist.", [nameof(TokenFile)]);
            yield break;
        }

        var token = ResolveToken();
        if (token.Length < 16)
        {
            yield return new ValidationResult(
                "The control API needs a bearer token of at least 16 characters: set Control:Token or Control:TokenFile.",
                [nameof(Token), nameof(TokenFile)]);
        }
    }
}
