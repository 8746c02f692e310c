using HardPair.Shared.Data;
using HardPair.Shared.Models;
using HardPair.Shared.Objectives;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.Objectives;

[Collection(TorchCollection.Name)]
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
    public void Create_UnknownMethod_ListsTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => TrainingObjectives.Create("mart", new ObjectiveOptions()));
        Assert.Contains("standard, pgd-at, trades, spat", error.Message, StringComparison.Ordinal);
    }
}
