namespace HardPair.Storage.Checkpoints;

/// <summary>A configured checkpoint signing key that cannot be used; the message says why, ready for an operator.</summary>
public sealed class SigningKeyException(string message, Exception? inner = null) : Exception(message, inner);
