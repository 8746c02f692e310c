using HardPair.Shared.Attacks;
using HardPair.Shared.Evaluation;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.Attacks;

[Collection(TorchCollection.Name)]
public sealed class AttackTests(StandardModelFixture fixture) : IClassFixture<StandardModelFixture>
{
    private const double Epsilon = 0.1;
    private const double Scale = StandardModelFixture.LogitScale;

    public static TheoryData<string> AttackNames() => ["fgsm", "pgd20", "cw", "apgd50"];

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

    private static IAttack Create(string name, long seed) => AttackCatalog.Create(name, Epsilon, Scale, seed);
}
