namespace HardPair.Storage;

/// <summary>A secret (a token, a key) given inline or in a file, as a mounted Kubernetes Secret gives it.</summary>
public static class SecretValue
{
    /// <summary>The file's content when a file is named (it wins), else the inline value; surrounding whitespace dropped; empty when neither is set.</summary>
    public static string Resolve(string? value, string? file) =>
        !string.IsNullOrWhiteSpace(file) ? File.ReadAllText(file).Trim() : value?.Trim() ?? "";
}
