using HardPair.Testing;

namespace HardPair.Architecture.Tests.Fixtures;

/// <summary>A fixture for the naming rule: test names in sentence case, or without a scenario or outcome.</summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class BadlyNamedTests
{
    [FixtureTest]
    public void A_sentence_in_snake_case()
    {
    }

    [FixtureTest]
    public void OneWordOnly()
    {
    }

    [FixtureTest]
    public void Classify_AnEmptyImage_IsRefused()
    {
    }
}
