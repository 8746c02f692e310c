using HardPair.ML.Objectives;
using HardPair.Testing;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Objectives;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class PartnerTrackerTests
{
    [Fact]
    public void Partners_AreTheHardestPairsOfTheConfusionSoFar_AndFollowItAsTheOldCountsDecay()
    {
        using var scope = NewDisposeScope();
        var tracker = new PartnerTracker(4);

        // Class 0 taken for 2 and class 1 for 3: the pairs (0, 2) and (1, 3).
        tracker.Add(Predicting([2, 2, 2, 0, 3, 3, 1, 2]), Labels([0, 0, 0, 0, 1, 1, 1, 2]));
        Assert.Equal([2, 3, 0, 1], tracker.Partners());

        // From then on 0 is taken for 1 and 1 is right, over and over: the old counts decay
        // below the new ones, and 0 and 1 are each other's partners.
        for (var batch = 0; batch < 300; batch++)
        {
            tracker.Add(Predicting([1, 1, 0, 2, 1, 1]), Labels([0, 0, 0, 2, 1, 1]));
        }

        var partners = tracker.Partners();
        Assert.Equal(1, partners[0]);
        Assert.Equal(0, partners[1]);
    }

    [Fact]
    public void Add_TakesTheArgmaxOfTheLogits()
    {
        using var scope = NewDisposeScope();
        var tracker = new PartnerTracker(3);
        using var logits = tensor(new float[,] { { 0.1f, 0.9f, 0.0f }, { 0.2f, 0.1f, 0.7f }, { 0.3f, 0.9f, 0.1f } });
        using var labels = tensor(new long[] { 0, 1, 2 });
        tracker.Add(logits, labels);

        // 0 → 1, 1 → 2, 2 → 1: h(1, 2) = (1 + 1) / 2 is the hardest pair; 0's partner is 1.
        Assert.Equal([1, 2, 1], tracker.Partners());
    }

    private static Tensor Labels(long[] labels) => tensor(labels);

    /// <summary>One-hot logits that predict the given classes (4 classes).</summary>
    private static Tensor Predicting(long[] predicted) => nn.functional.one_hot(tensor(predicted), 4).to(ScalarType.Float32);
}
