namespace HardPair.CommandLine;

/// <summary>The command line itself is wrong; the message is one line a person can act on.</summary>
public sealed class UsageException(string message) : Exception(message);
