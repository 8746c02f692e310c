using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Training;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Evaluation;

/// <summary>A briefly trained small-cnn, evaluated once with FGSM and PGD-5 on 300 test images.</summary>
public sealed class BriefModelFixture : IDisposable
{
    public BriefModelFixture()
    {
        torch.manual_seed(3);
        var (train, validation) = EvaluationProtocol.HoldOut(DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train));
        Validation = validation.Take(1000);
        Test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(300);
        Model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        var objective = TrainingObjectives.Create(TrainingObjectives.Standard, new ObjectiveOptions { Scale = 1 });
        AdversarialTrainer.Train(Model, objective, train.Subset(3000, seed: 3), new TrainingOptions { Epochs = 1 }, torch.CPU);
        Report = ModelEvaluator.Evaluate(Model, new EvaluationPlan { Test = Test, Validation = Validation, Attacks = ["clean", "fgsm", "pgd5", "pgd5"] }, torch.CPU);
    }

    public nn.Module<Tensor, Tensor> Model { get; }

    public ImageDataset Test { get; }

    public ImageDataset Validation { get; }

    public EvaluationReport Report { get; }

    public void Dispose() => Model.Dispose();
}

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ModelEvaluatorTests(BriefModelFixture fixture) : IClassFixture<BriefModelFixture>
{
    private EvaluationReport Report => fixture.Report;

    [Fact]
    public void Evaluate_MeasuresCleanAndEachAttackOnce_WithTheStrongestAsThePairHardnessSource()
    {
        Assert.Equal(["fgsm", "pgd5"], Report.Robust.Select(r => r.Attack));
        // No suite ran: the headline, and the pair hardness's source, is the lowest single attack
        // (FGSM here: PGD-5's steps of ε/10 reach only half the ball).
        Assert.Equal(Report.Robust.MinBy(r => r.Accuracy)!.Attack, Report.PairHardnessSource);
        Assert.Same(Report.Robust.MinBy(r => r.Accuracy), Report.Headline);
        Assert.Equal(300, Report.TestExamples);
        Assert.Equal(1000, Report.ValidationExamples);
        Assert.Equal(RobustnessEvaluator.Run(fixture.Model, fixture.Test, null, 100, torch.CPU).Accuracy, Report.Clean.Accuracy);
        Assert.All(Report.Robust, r => Assert.True(r.Accuracy < Report.Clean.Accuracy, $"{r.Attack}: {r.Accuracy} vs clean {Report.Clean.Accuracy}"));
    }

    [Fact]
    public void Evaluate_PairHardness_IsSymmetricWithAZeroDiagonal_AndPartnersAreItsArgmax()
    {
        var h = Report.HardPairs.PairHardness;
        for (var i = 0; i < h.Length; i++)
        {
            Assert.Equal(0, h[i][i]);
            for (var j = 0; j < h.Length; j++)
            {
                Assert.Equal(h[i][j], h[j][i], 12);
                Assert.True(j == i || h[i][j] <= h[i][Report.HardPairs.HardPartners[i]]);
            }
        }

        Assert.InRange(Report.HardPairShare!.Value, 0.1, 1);
    }

    [Fact]
    public void Evaluate_Temperature_MinimisesHeldOutNll()
    {
        using var scope = torch.NewDisposeScope();
        var (logits, labels) = ModelEvaluator.Logits(fixture.Model, fixture.Validation, 250, torch.CPU);
        var fitted = TemperatureScaling.NegativeLogLikelihood(logits, labels, Report.Temperature);

        Assert.True(fitted <= TemperatureScaling.NegativeLogLikelihood(logits, labels, 1.0));
        Assert.True(fitted <= TemperatureScaling.NegativeLogLikelihood(logits, labels, Report.Temperature * 1.2));
        Assert.True(fitted <= TemperatureScaling.NegativeLogLikelihood(logits, labels, Report.Temperature / 1.2));
        Assert.InRange(Report.EceBefore, 0, 1);
        Assert.InRange(Report.EceAfter, 0, 1);
    }

    [Fact]
    public void Classes_WeightedByTheirSize_AddUpToTheOverallAccuracy()
    {
        var sizes = Report.Clean.Confusion.Select(row => row.Sum()).ToArray();
        var classes = Report.Classes;

        Assert.Equal(DatasetCatalog.FashionMnistClasses, classes.Select(c => c.Name));
        Assert.Equal(Report.Clean.Accuracy, classes.Select((c, i) => c.CleanAccuracy * sizes[i]).Sum() / sizes.Sum(), 9);
        var pgd = Report.Robust.Single(r => r.Attack == "pgd5");
        Assert.Equal(pgd.Accuracy, classes.Select((c, i) => c.RobustAccuracy["pgd5"] * sizes[i]).Sum() / sizes.Sum(), 9);
        Assert.All(classes, c => Assert.NotEqual(c.Name, c.HardPartner));
    }

    [Fact]
    public void ApplyTo_WritesEverythingIntoAManifestThatPublishesAndVerifies()
    {
        using var temp = new TempDirectory();
        var store = new CheckpointStore(temp.Path, TimeProvider.System);

        var published = store.Publish(fixture.Model, Report.ApplyTo(TestCheckpoints.Draft(head: ClassifierHeadKind.Linear)));
        var read = CheckpointReader.Verify(Path.Combine(store.Root, published.Version));

        Assert.Equal(Report.Clean.Accuracy, read.Metrics.CleanAccuracy);
        Assert.Equal(["fgsm", "pgd5"], read.Metrics.Robust.Select(r => r.Attack));
        Assert.Equal(Report.HardPairShare, read.Metrics.HardPairShare);
        Assert.Equal(Report.PairHardnessSource, read.Metrics.PairHardnessSource);
        Assert.Equal(Report.HardPairs.PairHardness, read.PairHardness);
        Assert.Equal(Report.Temperature, read.CalibrationTemperature);
        Assert.Equal(new CalibrationRecord(Report.EceBefore, Report.EceAfter, CalibrationError.DefaultBins), read.Calibration);
        Assert.Equal(1000, read.Dataset.ValidationExamples);
        Assert.Equal(CheckpointManifest.CurrentSchemaVersion, read.SchemaVersion);
        Assert.Equal(300, read.Metrics.CleanExamples);
        Assert.Equal(300, read.Metrics.EvaluatedExamples);
        Assert.All(read.Metrics.Robust, r => Assert.Equal(300, r.Examples));
    }

    [Fact]
    public void Evaluate_WithASuite_MakesItTheHeadlineAndThePairHardnessSource_CleanOnAllRobustOnTheFirst()
    {
        var plan = new EvaluationPlan
        {
            Test = fixture.Test,
            RobustExamples = 100,
            Validation = fixture.Validation,
            Attacks = ["clean", "pgd5", "apgd-ce5+apgd-t2x5+square30"],
        };

        var report = ModelEvaluator.Evaluate(fixture.Model, plan, torch.CPU);
        var manifest = report.ApplyTo(TestCheckpoints.Draft(head: ClassifierHeadKind.Linear));

        Assert.Equal(300, report.TestExamples);
        Assert.Equal(100, report.RobustExamples);
        var suite = report.Robust.Single(r => r.Attack == "apgd-ce5+apgd-t2x5+square30");
        Assert.Same(suite, report.Headline);
        Assert.Equal(suite.Attack, report.PairHardnessSource);
        Assert.True(suite.Accuracy <= report.Robust.Single(r => r.Attack == "pgd5").Accuracy);
        Assert.Equal(["apgd-ce5", "apgd-t2x5", "square30"], suite.Stages!.Select(s => s.Attack));
        Assert.Equal(new RobustSummary(suite.Attack, 0.1, suite.Accuracy, 100, WorstCase: true), manifest.Metrics.RobustSummary);
        Assert.Equal(300, manifest.Metrics.CleanExamples);
        Assert.Equal(100, manifest.Metrics.EvaluatedExamples);
    }

    [Fact]
    public void Evaluate_UnknownAttack_IsRefusedBeforeAnyWork()
    {
        var plan = new EvaluationPlan { Test = fixture.Test, Validation = fixture.Validation, Attacks = ["clean", "squares"] };

        var error = Assert.Throws<ArgumentException>(() => ModelEvaluator.Evaluate(fixture.Model, plan, torch.CPU));
        Assert.Contains("squares", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HoldOut_IsFixed_AndDisjointFromTraining()
    {
        var split = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train);
        var (train, validation) = EvaluationProtocol.HoldOut(split);
        var (_, again) = EvaluationProtocol.HoldOut(split);

        Assert.Equal(5000, validation.Count);
        Assert.Equal(55_000, train.Count);
        Assert.Equal(validation.SourceRows.ToArray(), again.SourceRows.ToArray());
        Assert.Empty(train.SourceRows.ToArray().Intersect(validation.SourceRows.ToArray()));
    }
}
