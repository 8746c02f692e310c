namespace HardPair.Architecture.Tests.Fixtures;

/// <summary>A test class without a kind: the fixture KindTraitTests' rule must catch (it never runs).</summary>
public sealed class UnlabelledTests
{
    [Fact(Skip = "a fixture for KindTraitTests: a test class without a Kind trait")]
    public void Unlabelled_Fixture_IsCaught()
    {
    }
}
