using HardPair.ML.Attacks;
using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using HardPair.Testing;
using HardPair.TrainerSidecar.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.TrainerSidecar.Tests.Pipeline;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class RetrainingPipelineTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void AssembleData_AppendsTheExtraExamples_AndCountsThemApart()
    {
        var extra = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(7);

        var data = RetrainingPipeline.AssembleData(new DataOptions(), 100, seed: 3, classes => extra);
        var plain = RetrainingPipeline.AssembleData(new DataOptions(), 100, seed: 3);

        Assert.Equal(107, data.Train.Count);
        Assert.Equal(7, data.ExtraExamples);
        Assert.Equal(100, plain.Train.Count);
        Assert.Equal(0, plain.ExtraExamples);
        Assert.Equal(5000, data.Validation.Count);
        Assert.Equal(DatasetCatalog.FashionMnist, data.Dataset);
    }

    [Fact]
    public void Candidate_FromAParent_IsACopyOfItsWeights_ThatTrainingDoesNotShare()
    {
        using var parent = Parent(ClassifierHeadKind.Linear);
        var data = RetrainingPipeline.AssembleData(new DataOptions(), 10, seed: 1);
        using var input = torch.rand(4, 1, 28, 28);
        using var before = Output(parent.Model, input);

        using var candidate = RetrainingPipeline.Candidate(parent, data, ClassifierHeadKind.Linear, CPU);
        using (var output = Output(candidate, input))
        {
            Assert.True(Tensors.Identical(before, output));
        }

        using (torch.no_grad())
        {
            foreach (var parameter in candidate.parameters())
            {
                parameter.add_(1);
            }
        }

        using var parentAfter = Output(parent.Model, input);
        using var candidateAfter = Output(candidate, input);
        Assert.True(Tensors.Identical(before, parentAfter));
        Assert.False(Tensors.Identical(before, candidateAfter));
    }

    [Fact]
    public void Candidate_FromScratch_IsTheArchitectureMadeForTheImages_AndRefusesAnother()
    {
        var data = RetrainingPipeline.AssembleData(new DataOptions(), 10, seed: 1);

        using var fresh = RetrainingPipeline.Candidate(parent: null, data, ClassifierHeadKind.Cosine, CPU);
        var error = Assert.Throws<ArgumentException>(() => RetrainingPipeline.Candidate(parent: null, data, ClassifierHeadKind.Cosine, CPU, NetworkCatalog.PreActResNet18));

        Assert.IsType<SmallCnn>(fresh);
        Assert.Contains("preact-resnet18 takes 3x32x32 images, but fashion-mnist has 1x28x28", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManifestAndPublish_RecordTheCandidate_AndWhatLandedVerifies()
    {
        using var parent = Parent(ClassifierHeadKind.Cosine);
        var extra = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(5);
        var data = RetrainingPipeline.AssembleData(new DataOptions(), 50, seed: 2, _ => extra);
        using var candidate = RetrainingPipeline.Candidate(parent, data, ClassifierHeadKind.Cosine, CPU);
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(40);
        var report = ModelEvaluator.Evaluate(
            candidate,
            new EvaluationPlan { Test = test, Validation = data.Validation.Take(40), Attacks = [AttackCatalog.Clean, "fgsm"], Epsilon = 0.1, LogitScale = 8 },
            CPU,
            progress: null,
            TestContext.Current);
        var record = new CandidateRecord(parent.Manifest.Version, parent.Manifest.Architecture, ClassifierHeadKind.Cosine, new TrainingRecord { Method = "pgd-at", Epochs = 1, Seed = 2, RunId = "run-1" });
        var store = new CheckpointStore(temp.Combine("published"), TimeProvider.System);

        var manifest = RetrainingPipeline.Manifest(record, data, report);
        var published = RetrainingPipeline.Publish(store, candidate, manifest);

        Assert.Equal(parent.Manifest.Version, published.ParentVersion);
        Assert.Equal([1, 28, 28], published.InputShape);
        Assert.Equal("cosine", published.Head);
        Assert.Equal(50, published.Dataset.TrainExamples);
        Assert.Equal(5, published.Dataset.FeedbackExamples);
        Assert.Equal(report.Clean.Accuracy, published.Metrics.CleanAccuracy);
        Assert.Equal("run-1", published.Training.RunId);
        Assert.Equal(published.Version, CheckpointReader.Verify(store.FolderOf(published.Version), published.Version).Version);
    }

    private LoadedCheckpoint Parent(ClassifierHeadKind head)
    {
        torch.manual_seed(11);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, head);
        var store = new CheckpointStore(temp.Combine("parents"), TimeProvider.System);
        var version = store.Publish(model, TestCheckpoints.Draft(head: head)).Version;
        return store.Load(version, CPU);
    }

    private static Tensor Output(nn.Module<Tensor, Tensor> model, Tensor input)
    {
        model.eval();
        using var _ = torch.no_grad();
        return model.call(input);
    }
}
