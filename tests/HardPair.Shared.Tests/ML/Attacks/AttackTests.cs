using HardPair.ML.Attacks;
using HardPair.ML.Data;
using HardPair.ML.Evaluation;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Attacks;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Training)]
public sealed class AttackTests(StandardModelFixture fixture) : IClassFixture<StandardModelFixture>
{
    private const double Epsilon = 0.1;
    private const double Scale = StandardModelFixture.LogitScale;

    public static TheoryData<string> AttackNames() =>
        ["fgsm", "pgd20", "cw", "apgd50", "apgd-dlr20", "apgd-t2x10", "square100", "apgd-ce10+apgd-t2x10+square50"];

    [Theory]
    [MemberData(nameof(AttackNames))]
    public void Perturb_StaysInsideTheBallAndRange_AndLeavesTheModelAsItWas(string name)
    {
        var model = fixture.Model;
        using var scope = torch.NewDisposeScope();
        var (images, labels) = fixture.Test.Batch([.. Enumerable.Range(0, 64)]);
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        var gradientsBefore = model.parameters().Select(p => p.grad?.clone()).ToList();
        model.train();

        var adversarial = Create(name, seed: 5).Perturb(model, images, labels);

        Assert.True(model.training);
        model.eval();
        Assert.True(adversarial.sub(images).abs().max().item<float>() <= Epsilon + 1e-6);
        Assert.True(adversarial.min().item<float>() >= 0);
        Assert.True(adversarial.max().item<float>() <= 1);
        Assert.False(adversarial.requires_grad);
        Assert.All(model.parameters().Zip(before), pair => Assert.True(Tensors.Identical(pair.Second, pair.First)));
        Assert.All(model.parameters().Zip(gradientsBefore), pair => Assert.True(
            pair.Second is null ? pair.First.grad is null : Tensors.Identical(pair.Second, pair.First.grad!)));
    }

    [Theory]
    [MemberData(nameof(AttackNames))]
    public void Perturb_SameSeed_GivesTheSameExamples(string name)
    {
        using var scope = torch.NewDisposeScope();
        var (images, labels) = fixture.Test.Batch([.. Enumerable.Range(100, 32)]);

        var first = Create(name, seed: 9).Perturb(fixture.Model, images, labels);
        var second = Create(name, seed: 9).Perturb(fixture.Model, images, labels);

        Assert.True(Tensors.Identical(first, second));
    }

    [Fact]
    public void Pgd20_StandardModel_DrivesAccuracyNearZero_AndApgdIsAtLeastAsStrong()
    {
        var clean = RobustnessEvaluator.Run(fixture.Model, fixture.Test, null, 250, torch.CPU);
        var pgd = RobustnessEvaluator.Run(fixture.Model, fixture.Test, Create("pgd20", seed: 1), 250, torch.CPU);
        var apgd = RobustnessEvaluator.Run(fixture.Model, fixture.Test, Create("apgd50", seed: 1), 250, torch.CPU);

        Console.WriteLine($"standard model: clean {clean.Accuracy:P1}, PGD-20 {pgd.Accuracy:P1}, APGD-CE-50 {apgd.Accuracy:P1}");
        Assert.True(clean.Accuracy >= 0.85, $"clean accuracy {clean.Accuracy}");
        Assert.True(pgd.Accuracy <= 0.10, $"PGD-20 accuracy {pgd.Accuracy} should be near zero");
        Assert.True(apgd.Accuracy <= pgd.Accuracy, $"APGD-CE {apgd.Accuracy} vs PGD-20 {pgd.Accuracy}");
        Assert.Equal(500, pgd.Total);
    }

    [Fact]
    public void Apgd_Checkpoints_FollowTheSchedule()
    {
        // p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99, 1.05 of 100 iterations.
        Assert.Equal([22, 41, 57, 70, 80, 87, 93, 99], Apgd.Checkpoints(100).Order());
    }

    [Fact]
    public void ApgdTAndSquare_OnAGradientMaskedModel_BreakPointsApgdCeLeavesStanding()
    {
        // Logits × 10⁴ saturate the softmax: cross-entropy's input gradient is exactly zero on
        // every point with a logit margin above ~0.01, so APGD-CE cannot move, while DLR does not
        // see the scale and Square needs no gradient.
        using var masked = new SaturatedLogits(fixture.Model, 1e4);
        var points = fixture.Test.Take(200);

        var clean = Standing(masked, points, null);
        var ce = Standing(masked, points, Create("apgd-ce20", seed: 1));
        var targeted = Standing(masked, points, Create("apgd-t2x20", seed: 1));
        var square = Standing(masked, points, Create("square300", seed: 1));

        var leftByCe = ce.Count(x => x);
        var brokenByT = ce.Zip(targeted).Count(p => p.First && !p.Second);
        var brokenBySquare = ce.Zip(square).Count(p => p.First && !p.Second);
        Console.WriteLine($"masked model: clean {clean.Count(x => x)}, APGD-CE leaves {leftByCe}; of those APGD-T breaks {brokenByT}, Square {brokenBySquare}");
        Assert.True(leftByCe >= 0.8 * clean.Count(x => x), $"APGD-CE should be masked here: {leftByCe} of {clean.Count(x => x)} left");
        Assert.True(brokenByT >= leftByCe / 2, $"APGD-T broke {brokenByT} of {leftByCe}");
        Assert.True(brokenBySquare >= leftByCe / 4, $"Square broke {brokenBySquare} of {leftByCe}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Suite_IsNeverAboveAnyOfItsAttacksAloneOnTheSamePoints(bool masked)
    {
        using var saturated = new SaturatedLogits(fixture.Model, 1e4);
        nn.Module<Tensor, Tensor> model = masked ? saturated : fixture.Model;
        var points = fixture.Test.Take(200);
        var suite = (AttackSuite)Create("apgd-ce20+apgd-t2x20+square300", seed: 4);

        var worst = RobustnessEvaluator.Run(model, points, suite, 100, torch.CPU);
        var alone = suite.Attacks.Select(a => RobustnessEvaluator.Run(model, points, Create(a.Name, seed: 4), 100, torch.CPU)).ToList();

        Console.WriteLine($"masked {masked}: suite {worst.Accuracy:P1}; alone {string.Join(", ", alone.Select(a => $"{a.Attack} {a.Accuracy:P1}"))}");
        Assert.All(alone, a => Assert.True(worst.Accuracy <= a.Accuracy, $"suite {worst.Accuracy} above {a.Attack} {a.Accuracy}"));
        Assert.Equal(3, worst.Stages!.Count);
        Assert.Equal(worst.Stages[0].Attacked - worst.Stages.Sum(s => s.Broken), (long)Math.Round(worst.Accuracy * 200));
    }

    [Theory]
    [MemberData(nameof(AttackNames))]
    public void Perturb_CancelledMidway_StopsWithinAStep(string name)
    {
        using var cancel = new CancellationTokenSource();
        using var counting = new CountingModel(fixture.Model, cancelAfter: 2, cancel);
        using var scope = torch.NewDisposeScope();
        var (images, labels) = fixture.Test.Batch([.. Enumerable.Range(0, 32)]);
        var attack = Create(name, seed: 1);

        if (name == "fgsm")
        {
            // One step: the token is checked before it.
            cancel.Cancel();
        }

        Assert.ThrowsAny<OperationCanceledException>(() => attack.Perturb(counting, images, labels, cancel.Token));
        Assert.True(counting.Forwards <= 4, $"{counting.Forwards} forward passes after the token was cancelled at the second");
    }

    [Fact]
    public void DlrLoss_IsInvariantToScaleAndShift_AndMatchesTheDefinition()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.tensor(new float[] { 3, 1, 0, -1 }, [1, 4]);
        var labels = torch.tensor(new long[] { 0 });
        var targets = torch.tensor(new long[] { 2 });

        // −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3) = −(3 − 1) / (3 − 0); −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2) = −3 / 3.5.
        Assert.Equal(-2.0 / 3, DlrLoss.Untargeted(logits, labels).item<float>(), 5);
        Assert.Equal(-3 / 3.5, DlrLoss.Targeted(logits, labels, targets).item<float>(), 5);
        var moved = logits.mul(7).add(3);
        Assert.Equal(DlrLoss.Untargeted(logits, labels).item<float>(), DlrLoss.Untargeted(moved, labels).item<float>(), 5);
        Assert.Equal(DlrLoss.Targeted(logits, labels, targets).item<float>(), DlrLoss.Targeted(moved, labels, targets).item<float>(), 5);
    }

    [Fact]
    public void Square_WindowShare_HalvesAtThePapersMilestones()
    {
        Assert.Equal(0.8, Square.WindowShare(0, 10_000));
        Assert.Equal(0.8, Square.WindowShare(10, 10_000));
        Assert.Equal(0.4, Square.WindowShare(11, 10_000));
        Assert.Equal(0.8 / 512, Square.WindowShare(9_000, 10_000));
        // Rescaled to the budget: 5 000 queries reach the last window at query 4 001.
        Assert.Equal(0.8 / 512, Square.WindowShare(4_001, 5_000));
    }

    private static bool[] Standing(nn.Module<Tensor, Tensor> model, HardPair.Storage.Data.ImageDataset points, IAttack? attack)
    {
        using var scope = torch.NewDisposeScope();
        var (images, labels) = points.Batch([.. Enumerable.Range(0, points.Count)]);
        var inputs = attack is null ? images : attack.Perturb(model, images, labels);
        using var noGrad = torch.no_grad();
        return model.forward(inputs).argmax(1).eq(labels).data<bool>().ToArray();
    }

    private static IAttack Create(string name, long seed) => AttackCatalog.Create(name, Epsilon, Scale, seed);

    /// <summary>The model's logits times a large factor: a saturated softmax, the textbook case of gradient masking.</summary>
    private sealed class SaturatedLogits : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly double factor;

        public SaturatedLogits(nn.Module<Tensor, Tensor> inner, double factor)
            : base(nameof(SaturatedLogits))
        {
            this.inner = inner;
            this.factor = factor;
        }

        // The inner model is not registered as a component: it belongs to the fixture (and has no
        // layer whose mode matters).
        public override Tensor forward(Tensor input) => inner.forward(input).mul(factor);
    }

    /// <summary>Counts forward passes and cancels the token at the given one.</summary>
    private sealed class CountingModel : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly int cancelAfter;
        private readonly CancellationTokenSource cancel;

        public CountingModel(nn.Module<Tensor, Tensor> inner, int cancelAfter, CancellationTokenSource cancel)
            : base(nameof(CountingModel))
        {
            this.inner = inner;
            this.cancelAfter = cancelAfter;
            this.cancel = cancel;
        }

        public int Forwards { get; private set; }

        public override Tensor forward(Tensor input)
        {
            if (cancel.IsCancellationRequested)
            {
                Forwards++;
            }
            else if (++Forwards >= cancelAfter)
            {
                cancel.Cancel();
            }

            return inner.forward(input);
        }
    }
}
