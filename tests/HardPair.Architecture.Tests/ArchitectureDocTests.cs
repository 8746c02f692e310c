using System.Reflection;
using System.Text.RegularExpressions;
using HardPair.Testing;

namespace HardPair.Architecture.Tests;

/// <summary>docs/ARCHITECTURE.md names only types and members that exist, and projects that exist.</summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public partial class ArchitectureDocTests
{
    /// <summary>Diagram participants that are people or outside programs, not our types.</summary>
    private static readonly string[] Actors = ["Client", "Operator"];

    [Fact]
    public void ArchitectureDoc_EveryNamedTypeAndProject_Exists()
    {
        var text = File.ReadAllText(Path.Combine(Repository.Root, "docs", "ARCHITECTURE.md"));
        var names = Names(text);
        Assert.True(names.Count > 40, $"only {names.Count} names found: the doc's conventions changed?");

        // The product's types, and these tests (the doc names the checks that hold it to the code).
        var types = Layers.All.Append(typeof(ArchitectureDocTests).Assembly).SelectMany(LoadableTypes).ToList();
        var typeNames = types.Select(t => t.Name.Split('`')[0]).ToHashSet(StringComparer.Ordinal);
        var memberNames = types.SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        var projects = Layers.All.Select(a => a.GetName().Name!).ToHashSet(StringComparer.Ordinal);

        var missing = names.Where(name => !Resolves(name, types, typeNames, memberNames, projects)).ToList();

        Assert.True(missing.Count == 0, $"docs/ARCHITECTURE.md names what does not exist: {string.Join(", ", missing)}");
    }

    [Fact]
    public void ArchitectureDoc_ARenamedType_IsCaught()
    {
        var types = Layers.All.SelectMany(LoadableTypes).ToList();
        var typeNames = types.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

        Assert.False(Resolves("RunExecutorV2", types, typeNames, [], []));
        Assert.True(Resolves("RunExecutor", types, typeNames, [], []));
        Assert.False(Resolves("ModelHost.Teleport", types, typeNames, [], []));
    }

    /// <summary>Backticked identifiers (<c>Type</c>, <c>Type.Member</c>, <c>HardPair.Project</c>) and diagram participants.</summary>
    private static List<string> Names(string text)
    {
        var backticked = Backticked().Matches(text).Select(m => m.Groups[1].Value);
        var participants = Participant().Matches(text).Select(m => m.Groups[1].Value).Where(p => !Actors.Contains(p));
        return [.. backticked.Concat(participants).Distinct(StringComparer.Ordinal)];
    }

    private static bool Resolves(string name, List<Type> types, HashSet<string> typeNames, HashSet<string> memberNames, HashSet<string> projects)
    {
        if (name.StartsWith("HardPair.", StringComparison.Ordinal))
        {
            return projects.Contains(name);
        }

        var dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            // A type, or an RPC or method named in prose (`Classify`).
            return typeNames.Contains(name) || memberNames.Contains(name);
        }

        var (type, member) = (name[..dot], name[(dot + 1)..]);
        return types.Where(t => t.Name == type).Any(t => t.GetMember(member, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static).Length > 0);
    }

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            return ex.Types.OfType<Type>();
        }
    }

    [GeneratedRegex(@"`((?:HardPair\.[A-Za-z]+)|(?:[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*(?:\.[A-Z][A-Za-z0-9]+)?))`")]
    private static partial Regex Backticked();

    [GeneratedRegex(@"^\s*participant (\w+)", RegexOptions.Multiline)]
    private static partial Regex Participant();
}
