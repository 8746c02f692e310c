namespace HardPair.Architecture.Tests.Fixtures;

/// <summary>Marks a fixture's "test" for KindTraitTests' rule; xunit does not run it.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class FixtureTestAttribute : Attribute;

/// <summary>A test class without a kind: the fixture KindTraitTests' rule must catch.</summary>
public sealed class UnlabelledTests
{
    [FixtureTest]
    public void Unlabelled_Fixture_IsCaught()
    {
    }
}
