namespace HardPair.Cli;

/// <summary>Positional arguments and <c>--name value</c> / <c>--flag</c> options.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string?> options = new(StringComparer.Ordinal);
    private readonly HashSet<string> used = new(StringComparer.Ordinal);

    private CommandLine(List<string> positionals) => Positionals = positionals;

    public IReadOnlyList<string> Positionals { get; }

    public static CommandLine Parse(string[] args)
    {
        var positionals = new List<string>();
        var line = new CommandLine(positionals);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                positionals.Add(args[i]);
                continue;
            }

            var name = args[i][2..];
            var value = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            if (!line.options.TryAdd(name, value))
            {
                throw new UsageException($"--{name} given twice");
            }
        }

        return line;
    }

    public string Required(string name) =>
        Optional(name) ?? throw new UsageException($"--{name} is required");

    public string? Optional(string name)
    {
        used.Add(name);
        if (!options.TryGetValue(name, out var value))
        {
            return null;
        }

        return value ?? throw new UsageException($"--{name} needs a value");
    }

    public bool Flag(string name)
    {
        used.Add(name);
        if (options.TryGetValue(name, out var value) && value is not null)
        {
            throw new UsageException($"--{name} takes no value");
        }

        return options.ContainsKey(name);
    }

    /// <summary>Refuses options no command asked for: a typo must not be silently ignored.</summary>
    public void RejectUnknown(int positionalCount)
    {
        var unknown = options.Keys.FirstOrDefault(k => !used.Contains(k));
        if (unknown is not null)
        {
            throw new UsageException($"unknown option --{unknown}");
        }

        if (Positionals.Count != positionalCount)
        {
            throw new UsageException($"expected {positionalCount} argument(s), got {Positionals.Count}");
        }
    }
}
