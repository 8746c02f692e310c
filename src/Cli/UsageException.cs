namespace HardPair.Cli;

/// <summary>The command line itself is wrong.</summary>
public sealed class UsageException(string message) : Exception(message);
