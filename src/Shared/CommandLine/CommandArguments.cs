using System.Globalization;

namespace HardPair.CommandLine;

/// <summary>
/// Positional arguments and <c>--name value</c> / <c>--flag</c> options, with typed, range-checked
/// accessors. Every mistake becomes a <see cref="UsageException"/> that names the option.
/// </summary>
public sealed class CommandArguments
{
    private readonly Dictionary<string, string?> options = new(StringComparer.Ordinal);
    private readonly HashSet<string> used = new(StringComparer.Ordinal);

    private CommandArguments(List<string> positionals) => Positionals = positionals;

    public IReadOnlyList<string> Positionals { get; }

    public static CommandArguments Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var positionals = new List<string>();
        var line = new CommandArguments(positionals);
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                positionals.Add(args[i]);
                continue;
            }

            var name = args[i][2..];
            string? value = null;
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

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

        return string.IsNullOrWhiteSpace(value) ? throw new UsageException($"--{name} needs a value") : value;
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

    public int Int(string name, int fallback, int min, int max)
    {
        var text = Optional(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--{name} must be a whole number from {min} to {max}, not '{text}'"));
        }

        return value;
    }

    public double Double(string name, double fallback, double min, double max)
    {
        var text = Optional(name);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value < min || value > max)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--{name} must be a number from {min} to {max}, not '{text}'"));
        }

        return value;
    }

    /// <summary>One of <paramref name="allowed"/> (exact, case-sensitive); <paramref name="fallback"/> when absent, required when that is null.</summary>
    public string Choice(string name, string? fallback, IReadOnlyCollection<string> allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        var text = Optional(name) ?? fallback
            ?? throw new UsageException($"--{name} is required: one of {string.Join(", ", allowed)}");
        return allowed.Contains(text, StringComparer.Ordinal)
            ? text
            : throw new UsageException($"--{name} must be one of {string.Join(", ", allowed)}, not '{text}'");
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
