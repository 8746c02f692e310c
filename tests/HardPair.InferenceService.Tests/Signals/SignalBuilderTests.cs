using HardPair.InferenceService.Signals;
using HardPair.Testing;

namespace HardPair.InferenceService.Tests.Signals;

/// <summary>The ranking behind label, top-k and the hard pair: by probability, ties by class index.</summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class SignalBuilderTests
{
    [Fact]
    public void RankDescending_OrdersByProbabilityThenIndex_LikeASortWould()
    {
        var random = new Random(7);
        for (var trial = 0; trial < 2000; trial++)
        {
            // Few distinct values, so that ties are common.
            var p = Enumerable.Range(0, random.Next(1, 12)).Select(_ => random.Next(0, 4) / 4f).ToArray();
            var expected = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ThenBy(i => i).ToArray();

            Assert.Equal(expected, SignalBuilder.RankDescending(p));
        }
    }
}
