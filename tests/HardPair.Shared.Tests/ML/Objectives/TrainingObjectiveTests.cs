using HardPair.ML.Data;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.ML.Objectives;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TrainingObjectiveTests
{
    public static TheoryData<string> Names() => [.. TrainingObjectives.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void Compute_FromEvalMode_GivesAFiniteLossWithItsPartsAndLeavesTrainMode(string name)
    {
        torch.manual_seed(3);
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(16);
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        model.eval();
        var (images, labels) = data.Batch([.. Enumerable.Range(0, 16)]);
        var options = new ObjectiveOptions { AttackSteps = 2, Beta = 6 };

        var loss = TrainingObjectives.Create(name, options).Compute(model, images, labels);
        loss.Total.backward();

        Assert.True(model.training);
        Assert.True(double.IsFinite(loss.Total.item<float>()));
        Assert.Equal(name is TrainingObjectives.Trades or TrainingObjectives.Spat or TrainingObjectives.HardPair, loss.Robust is not null);
        if (loss.Robust is { } robust)
        {
            Assert.Equal(loss.Natural.item<float>() + (6 * robust.item<float>()), loss.Total.item<float>(), 1e-4);
        }

        Assert.All(model.parameters(), p => Assert.True(p.grad is not null && p.grad.isfinite().all().item<bool>()));
    }

    [Fact]
    public void HardPair_PartnerMargin_OnTheSameAdversarialExamples_RaisesTheSelfPacedLoss()
    {
        torch.manual_seed(5);
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(32);
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var (images, labels) = data.Batch([.. Enumerable.Range(0, 32)]);
        var plain = new ObjectiveOptions { AttackSteps = 2, Beta = 0 };

        // The same seed, so the same attack: only the partner's raised logit differs.
        model.eval();
        var without = TrainingObjectives.Create(TrainingObjectives.HardPair, plain).Compute(model, images, labels).Natural.item<float>();
        model.eval();
        var with = TrainingObjectives.Create(TrainingObjectives.HardPair, plain with { PartnerMargin = 0.3 }).Compute(model, images, labels).Natural.item<float>();

        Assert.True(with > without + 1e-3, $"{with} <= {without}");
    }

    [Fact]
    public void HardPair_PartnerAttack_ChangesTheAttackOnceThereArePartners_NotBefore()
    {
        torch.manual_seed(5);
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(64);
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var (first, firstLabels) = data.Batch([.. Enumerable.Range(0, 32)]);
        var (second, secondLabels) = data.Batch([.. Enumerable.Range(32, 32)]);
        var plain = new ObjectiveOptions { AttackSteps = 3, Beta = 0 };
        var withoutPairs = TrainingObjectives.Create(TrainingObjectives.HardPair, plain);
        var towardPartners = TrainingObjectives.Create(TrainingObjectives.HardPair, plain with { PartnerAttackShare = 1 });

        float Loss(ITrainingObjective objective, torch.Tensor images, torch.Tensor labels)
        {
            model.eval();
            return objective.Compute(model, images, labels).Natural.item<float>();
        }

        // The first batch has no partners yet: the same cross-entropy attack, the same loss. The
        // second is attacked toward the partners the first batch gave.
        Assert.Equal(Loss(withoutPairs, first, firstLabels), Loss(towardPartners, first, firstLabels));
        Assert.NotEqual(Loss(withoutPairs, second, secondLabels), Loss(towardPartners, second, secondLabels));
    }

    [Fact]
    public void Pgd_OnALossOfItsOwn_ClimbsIt_HereTowardAChosenClass_WithinTheBall()
    {
        torch.manual_seed(7);
        var data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(64);
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        model.eval();
        var (images, _) = data.Batch([.. Enumerable.Range(0, 64)]);

        // The untrained model's own predictions as labels: every example starts unfooled (PGD keeps
        // the first iterate that fools the model, so it climbs until then).
        torch.Tensor labels;
        using (torch.no_grad())
        {
            labels = model.forward(images).argmax(1);
        }

        var targets = labels.add(1).remainder(10);
        torch.Tensor TowardTarget(torch.Tensor logits, torch.Tensor y) => logits.gather(1, targets.unsqueeze(1)).sub(logits.gather(1, y.unsqueeze(1))).squeeze(1);
        var attack = new HardPair.ML.Attacks.Pgd(0.1, 10, 0.02, TowardTarget, seed: 1);

        var adversarial = attack.Perturb(model, images, labels);
        using var noGrad = torch.no_grad();
        var before = TowardTarget(model.forward(images), labels);
        var after = TowardTarget(model.forward(adversarial), labels);

        var climbed = after.gt(before).to(torch.ScalarType.Float32).mean().item<float>();
        Assert.True(climbed >= 0.95, $"the loss rose on only {climbed:P0} of the examples");
        Assert.True(adversarial.sub(images).abs().max().item<float>() <= 0.1 + 1e-6);
    }

    [Fact]
    public void Create_UnknownMethod_ListsTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => TrainingObjectives.Create("mart", new ObjectiveOptions()));
        Assert.Contains("standard, pgd-at, trades, spat", error.Message, StringComparison.Ordinal);
    }
}
