using System.ComponentModel.DataAnnotations;

namespace HardPair.InferenceService.Options;

/// <summary>
/// The Open Inference Protocol (KServe v2): the served model's name, and the REST twin's
/// listener. The gRPC service is on the service's main port, beside <c>hardpair.v1</c>.
/// </summary>
public sealed class OpenInferenceOptions : IValidatableObject
{
    public const string SectionName = "OpenInference";

    /// <summary>The model's name in the protocol (<c>model_name</c>, <c>/v2/models/{name}</c>).</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", ErrorMessage = "OpenInference:ModelName must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")]
    public string ModelName { get; set; } = "classifier";

    /// <summary>Port of the REST twin (plaintext HTTP/1.1, a server of its own); 0: no REST.</summary>
    [Range(0, 65535)]
    public int RestPort { get; set; }

    /// <summary>
    /// Address the REST twin binds: <c>127.0.0.1</c> (default), another IP address,
    /// <c>localhost</c>, or <c>+</c> (also <c>*</c>, <c>0.0.0.0</c>) for every interface (in a pod).
    /// </summary>
    [Required]
    public string RestHost { get; set; } = "127.0.0.1";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!HardPair.Hosting.ListenHost.IsValid(RestHost))
        {
            yield return new ValidationResult(
                $"OpenInference:RestHost '{RestHost}' must be an IP address, localhost, or + for every interface",
                [nameof(RestHost)]);
        }
    }
}
