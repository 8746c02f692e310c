using HardPair.Testing;
using Mono.Cecil;

namespace HardPair.Architecture.Tests;

/// <summary>
/// Every test class names its kind (<see cref="TestKind"/>), so <c>dotnet test --filter Kind=Unit</c>
/// runs exactly the unit tests. Read from the built test assemblies' metadata.
/// </summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public partial class KindTraitTests
{
    private const string FixtureNamespace = "HardPair.Architecture.Tests.Fixtures";
    private static readonly string[] XunitTests = ["Xunit.FactAttribute", "Xunit.TheoryAttribute"];

    public static TheoryData<string> TestProjects =>
        [.. Directory.GetDirectories(Path.Combine(Repository.Root, "tests"), "HardPair.*.Tests").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(TestProjects))]
    public void TestClasses_OfEachProject_HaveExactlyOneKnownKind(string project)
    {
        var assembly = Path.Combine(Repository.Root, "tests", project, "bin", Configuration(), "net10.0", project + ".dll");
        Assert.True(File.Exists(assembly), $"{assembly} is missing: build the solution first");

        var (classes, wrong) = Check(assembly);

        Assert.NotEmpty(classes);
        Assert.True(wrong.Count == 0, $"test classes without exactly one Kind trait of {string.Join('/', TestKind.All)}: {string.Join(", ", wrong)}");
    }

    [Fact]
    public void KindRule_OnATestClassWithoutAKind_Fails()
    {
        // The fixture's method carries FixtureTest, standing in for [Fact] so that xunit does not run it.
        var (_, wrong) = Check(typeof(KindTraitTests).Assembly.Location, [.. XunitTests, typeof(Fixtures.FixtureTestAttribute).FullName!]);

        Assert.Contains($"{FixtureNamespace}.UnlabelledTests", wrong);
        Assert.DoesNotContain(typeof(KindTraitTests).FullName, wrong);
    }

    [Theory]
    [MemberData(nameof(TestProjects))]
    public void TestMethods_OfEachProject_AreNamedMethodScenarioOutcome(string project)
    {
        var assembly = Path.Combine(Repository.Root, "tests", project, "bin", Configuration(), "net10.0", project + ".dll");
        Assert.True(File.Exists(assembly), $"{assembly} is missing: build the solution first");

        var wrong = BadlyNamed(assembly);

        Assert.True(wrong.Count == 0, $"test methods not named Method_Scenario_Outcome (PascalCase parts joined by _): {string.Join(", ", wrong)}");
    }

    [Fact]
    public void NamingRule_OnSentenceCaseOrOnePartNames_Fails()
    {
        var wrong = BadlyNamed(typeof(KindTraitTests).Assembly.Location, [.. XunitTests, typeof(Fixtures.FixtureTestAttribute).FullName!]);

        Assert.Contains($"{FixtureNamespace}.BadlyNamedTests.A_sentence_in_snake_case", wrong);
        Assert.Contains($"{FixtureNamespace}.BadlyNamedTests.OneWordOnly", wrong);
        Assert.DoesNotContain($"{FixtureNamespace}.BadlyNamedTests.Classify_AnEmptyImage_IsRefused", wrong);
        Assert.DoesNotContain(wrong, w => w.StartsWith(typeof(KindTraitTests).FullName!, StringComparison.Ordinal));
    }

    /// <summary>
    /// Test methods whose names are not two or more PascalCase parts joined by underscores:
    /// <c>Method_Outcome</c> or <c>Method_Scenario_Outcome</c> (an outcome may take several parts).
    /// </summary>
    private static List<string> BadlyNamed(string assemblyPath, IReadOnlyCollection<string>? testAttributes = null)
    {
        testAttributes ??= XunitTests;
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        return [.. module.GetTypes()
            .SelectMany(t => t.Methods.Where(m => m.CustomAttributes.Any(a => testAttributes.Contains(a.AttributeType.FullName))).Select(m => (Type: t, Method: m)))
            .Where(x => !TestName().IsMatch(x.Method.Name))
            .Select(x => $"{x.Type.FullName}.{x.Method.Name}")];
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Z][A-Za-z0-9]*(_[A-Z0-9][A-Za-z0-9]*)+$")]
    private static partial System.Text.RegularExpressions.Regex TestName();

    /// <summary>The test classes (types with a method carrying one of <paramref name="testAttributes"/>, by default [Fact] or [Theory]) and those without exactly one known kind.</summary>
    private static (List<string> Classes, List<string> Wrong) Check(string assemblyPath, IReadOnlyCollection<string>? testAttributes = null)
    {
        testAttributes ??= XunitTests;
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        var classes = module.GetTypes()
            .Where(t => t.Methods.Any(m => m.CustomAttributes.Any(a => testAttributes.Contains(a.AttributeType.FullName))))
            .ToList();
        var wrong = classes.Where(t => Kinds(t) is not [var kind] || !TestKind.All.Contains(kind)).Select(t => t.FullName).ToList();
        return ([.. classes.Select(t => t.FullName)], wrong);
    }

    /// <summary>The Kind traits on the class and the classes it derives from within the module.</summary>
    private static List<string> Kinds(TypeDefinition type)
    {
        var kinds = new List<string>();
        for (var t = type; t is not null; t = t.BaseType?.Resolve() is { } b && b.Module == type.Module ? b : null)
        {
            kinds.AddRange(t.CustomAttributes
                .Where(a => a.AttributeType.FullName == "Xunit.TraitAttribute" && a.ConstructorArguments.Count == 2 && (string)a.ConstructorArguments[0].Value == TestKind.Trait)
                .Select(a => (string)a.ConstructorArguments[1].Value));
        }

        return kinds;
    }

    private static string Configuration() => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
}
