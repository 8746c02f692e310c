using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Recipes;
using HardPair.Testing;

namespace HardPair.Shared.Tests.ML.Recipes;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class HyperParametersTests
{
    [Fact]
    public void All_NamesAndFlags_AreUnique()
    {
        Assert.Equal(HyperParameters.All.Count, HyperParameters.All.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(HyperParameters.All.Count, HyperParameters.All.Select(p => p.Flag).Distinct(StringComparer.Ordinal).Count());
        Assert.All(HyperParameters.All, p => Assert.Same(p, HyperParameters.Find(p.Name)));
        Assert.Null(HyperParameters.Find("momentum"));
    }

    [Theory]
    [InlineData("epsilon", 0.1, true)]
    [InlineData("epsilon", 1.5, false)]
    [InlineData("epsilon", double.NaN, false)]
    [InlineData("attackSteps", 10, true)]
    [InlineData("attackSteps", 2.5, false)]
    [InlineData("schedule", 2, true)]
    [InlineData("schedule", 1.5, false)]
    [InlineData("schedule", 3, false)]
    [InlineData("ema", 0.99999, true)]
    [InlineData("ema", 1, false)]
    public void Accepts_ValueAgainstRangeAndWholeness_Decides(string name, double value, bool accepted) =>
        Assert.Equal(accepted, HyperParameters.Find(name)!.Accepts(value));

    [Fact]
    public void Defaults_OfEveryObjectiveOption_LieInTheirRanges()
    {
        foreach (var method in TrainingObjectives.Names)
        {
            foreach (var head in Enum.GetValues<ClassifierHeadKind>())
            {
                var values = ObjectiveOptions.DefaultsFor(method, head).ToDictionary(method);
                Assert.All(values, v => Assert.True(HyperParameters.Find(v.Key)!.Accepts(v.Value), $"{method}/{head}: {v.Key} = {v.Value}"));
            }
        }
    }

    [Theory]
    [InlineData(TrainingObjectives.HardPair, ClassifierHeadKind.Cosine, 1.0, 8.0)]
    [InlineData(TrainingObjectives.Spat, ClassifierHeadKind.Cosine, 6.0, 8.0)]
    [InlineData(TrainingObjectives.Trades, ClassifierHeadKind.Linear, 6.0, 1.0)]
    public void DefaultsFor_MethodAndHead_GiveTheirBetaAndScale(string method, ClassifierHeadKind head, double beta, double scale)
    {
        var defaults = ObjectiveOptions.DefaultsFor(method, head);

        Assert.Equal((beta, scale), (defaults.Beta, defaults.Scale));
    }
}
