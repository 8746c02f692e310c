using HardPair.ML.Evaluation;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Evaluation;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class CalibrationTests
{
    [Fact]
    public void Expected_HandComputedBins_MatchTheDefinition()
    {
        // Two bins: (0, 0.5] holds 0.3 (wrong); (0.5, 1] holds 0.9 (right), 0.8 (right), 0.7 (wrong).
        // ECE = 1/4 · |0 − 0.3| + 3/4 · |2/3 − 0.8| = 0.075 + 0.1 = 0.175.
        var ece = CalibrationError.Expected([0.3, 0.9, 0.8, 0.7], [false, true, true, false], bins: 2);

        Assert.Equal(0.175, ece, 12);
    }

    [Fact]
    public void Expected_FullConfidenceHalfWrong_IsOneHalf()
    {
        Assert.Equal(0.5, CalibrationError.Expected([1.0, 1.0, 1.0, 1.0], [true, false, true, false]), 12);
        Assert.Equal(0, CalibrationError.Expected([], []));
    }

    [Fact]
    public void Fit_LabelsDrawnAtAKnownTemperature_RecoversIt()
    {
        const double trueTemperature = 2.5;
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(7);
        var logits = torch.randn([20_000, 10], generator: generator).mul(4);
        var labels = torch.multinomial(logits.div(trueTemperature).softmax(1), 1, generator: generator).squeeze(1);

        var fitted = TemperatureScaling.Fit(logits, labels);

        Assert.InRange(fitted, trueTemperature * 0.95, trueTemperature * 1.05);
        var best = TemperatureScaling.NegativeLogLikelihood(logits, labels, fitted);
        Assert.True(best <= TemperatureScaling.NegativeLogLikelihood(logits, labels, fitted * 1.1));
        Assert.True(best <= TemperatureScaling.NegativeLogLikelihood(logits, labels, fitted / 1.1));
        Assert.True(CalibrationError.Expected(logits, labels, fitted) < CalibrationError.Expected(logits, labels, 1.0));
    }

    [Fact]
    public void Fit_OverconfidentLogits_RaiseTheTemperatureAndLowerTheError()
    {
        using var scope = torch.NewDisposeScope();
        var generator = new Generator(3);
        var logits = torch.randn([5000, 10], generator: generator);
        var labels = torch.multinomial(logits.softmax(1), 1, generator: generator).squeeze(1);
        var overconfident = logits.mul(5);

        var fitted = TemperatureScaling.Fit(overconfident, labels);

        Assert.InRange(fitted, 4, 6);
        Assert.True(CalibrationError.Expected(overconfident, labels, fitted) < CalibrationError.Expected(overconfident, labels, 1.0) / 3);
    }
}
