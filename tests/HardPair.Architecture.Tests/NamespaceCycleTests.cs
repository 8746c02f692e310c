using System.Reflection;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using HardPair.Testing;
using static ArchUnitNET.Fluent.Slices.SliceRuleDefinition;

namespace HardPair.Architecture.Tests;

/// <summary>
/// No cycle between the folders (namespaces) of any project. Cycles between projects cannot
/// exist: MSBuild refuses a project-reference cycle at build time.
/// </summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public class NamespaceCycleTests
{
    private static readonly ArchUnitNET.Domain.Architecture Product =
        new ArchLoader().LoadAssemblies([.. Layers.HandWritten]).Build();

    public static TheoryData<string> Projects => [.. Layers.HandWritten.Select(a => a.GetName().Name!)];

    [Theory]
    [MemberData(nameof(Projects))]
    public void Namespaces_OfEachProject_HaveNoCycle(string project)
    {
        var assembly = Layers.HandWritten.Single(a => a.GetName().Name == project);
        Slices().Matching(Layers.RootNamespace(assembly) + ".(*)..").Should().BeFreeOfCycles().Check(Product);
    }

    [Fact]
    public void CycleRule_OnTwoNamespacesThatUseEachOther_Fails()
    {
        var fixture = new ArchLoader().LoadAssemblies(Assembly.GetExecutingAssembly()).Build();
        var rule = Slices().Matching("HardPair.Architecture.Tests.Fixtures.Cyclic.(*)..").Should().BeFreeOfCycles();

        Assert.False(rule.HasNoViolations(fixture));
        Assert.Throws<FailedArchRuleException>(() => rule.Check(fixture));
    }
}
