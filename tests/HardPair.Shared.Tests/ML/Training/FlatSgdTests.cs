using System.Text.Json;
using HardPair.ML.Data;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Training;
using HardPair.Storage.Data;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Training;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class FlatSgdTests
{
    private const double LearningRate = 0.05;
    private const double Momentum = 0.9;
    private const double WeightDecay = 2e-4;

    private static readonly ImageDataset Data = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train).Take(512);

    [Fact]
    public void Step_OverSeveralBatches_GivesTorchSharpSgdsWeights()
    {
        using var reference = NewModel();
        using var flat = NewModel();
        var objective = TrainingObjectives.Create(TrainingObjectives.Standard, new ObjectiveOptions());
        using var sgd = torch.optim.SGD(reference.parameters(), LearningRate, Momentum, weight_decay: WeightDecay);
        using var flatSgd = new FlatSgd(flat.parameters(), LearningRate, Momentum, WeightDecay);

        var batches = Data.BatchIndices(64, seed: 1).Take(6).ToArray();
        for (var i = 0; i < batches.Length; i++)
        {
            var learningRate = i < 4 ? LearningRate : LearningRate / 10;
            foreach (var group in sgd.ParamGroups)
            {
                group.LearningRate = learningRate;
            }

            flatSgd.LearningRate = learningRate;
            using var scope = torch.NewDisposeScope();
            var (images, labels) = Data.Batch(batches[i]);
            sgd.zero_grad();
            objective.Compute(reference, images, labels).Total.backward();
            sgd.step();
            flatSgd.ZeroGrad();
            objective.Compute(flat, images, labels).Total.backward();
            flatSgd.Step();
        }

        using var initial = NewModel();
        Assert.True(MaxDifference(reference, flat) < 1e-6, $"weights differ by {MaxDifference(reference, flat)}");
        Assert.True(MaxDifference(initial, flat) > 1e-3, "the flat optimizer left the weights where they started");
    }

    [Fact]
    public void Parameters_AfterTraining_AreViewsThatSaveAndLoadAsUsual()
    {
        using var temp = new TempDirectory();
        using var model = NewModel();
        AdversarialTrainer.Train(model, Standard(), Data, new TrainingOptions { Epochs = 1, BatchSize = 64 }, torch.CPU);
        model.save(temp.Combine("model.bin"));
        using var loaded = NewModel(seed: 99);
        loaded.load(temp.Combine("model.bin"), strict: true);

        Assert.Equal(0, MaxDifference(model, loaded));
        using var scope = torch.NewDisposeScope();
        var (images, _) = Data.Batch(Enumerable.Range(0, 32).ToArray());
        Assert.True(model.forward(images).allclose(loaded.forward(images)));
    }

    [Fact]
    public void Train_ResumedFromASnapshot_EndsWithTheWeightsOfAnUninterruptedRun()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 64 };
        using var uninterrupted = NewModel();
        AdversarialTrainer.Train(uninterrupted, Standard(), Data, options, torch.CPU);

        using (var interrupted = NewModel())
        {
            using var cancel = new CancellationTokenSource();
            var progress = new StopAfter(4, cancel);
            Assert.Throws<OperationCanceledException>(() =>
                AdversarialTrainer.Train(interrupted, Standard(), Data, options, torch.CPU, progress, cancel.Token, new TrainingSnapshotOptions(temp.Path, Every: 2)));
        }

        Assert.Equal(4, TrainingSnapshots.Latest(temp.Path)!.Step);
        Assert.True(File.Exists(TrainingSnapshots.Latest(temp.Path)!.VelocityPath));
        using var resumed = NewModel(seed: 99);
        var outcome = AdversarialTrainer.Train(resumed, Standard(), Data, options, torch.CPU, snapshots: new TrainingSnapshotOptions(temp.Path, Every: 2));

        Assert.Equal(4, outcome.ResumedFromStep);
        Assert.True(MaxDifference(uninterrupted, resumed) < 1e-5, $"weights differ by {MaxDifference(uninterrupted, resumed)}");
    }

    [Fact]
    public void Train_WithAWeightAverage_ResumedFromASnapshot_EndsWithTheAverageOfAnUninterruptedRun()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 64, EmaDecay = 0.9 };
        using var uninterrupted = NewModel();
        AdversarialTrainer.Train(uninterrupted, Standard(), Data, options, torch.CPU);

        using (var interrupted = NewModel())
        {
            using var cancel = new CancellationTokenSource();
            Assert.Throws<OperationCanceledException>(() =>
                AdversarialTrainer.Train(interrupted, Standard(), Data, options, torch.CPU, new StopAfter(4, cancel), cancel.Token, new TrainingSnapshotOptions(temp.Path, Every: 2)));
        }

        Assert.True(File.Exists(TrainingSnapshots.Latest(temp.Path)!.AveragePath));
        using var resumed = NewModel(seed: 99);
        AdversarialTrainer.Train(resumed, Standard(), Data, options, torch.CPU, snapshots: new TrainingSnapshotOptions(temp.Path, Every: 2));

        // Without the saved average the resumed one would restart at step 4's weights (and its
        // warm-up at 0): the final weights would differ by far more than rounding.
        Assert.True(MaxDifference(uninterrupted, resumed) < 1e-5, $"weights differ by {MaxDifference(uninterrupted, resumed)}");
    }

    /// <summary>
    /// A snapshot written before the flat optimizer (TorchSharp's SGD state, one momentum buffer per
    /// parameter) resumes into the same weights as a run that was never interrupted.
    /// </summary>
    [Fact]
    public void Train_ResumedFromASnapshotOfTorchSharpsSgd_EndsWithTheWeightsOfAnUninterruptedRun()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 64 };
        using var uninterrupted = NewModel();
        AdversarialTrainer.Train(uninterrupted, Standard(), Data, options, torch.CPU);

        // The trainer's first four steps as it ran them before: same batches, torch.optim.SGD.
        using (var before = NewModel())
        {
            using var sgd = torch.optim.SGD(before.parameters(), LearningRate, Momentum, weight_decay: WeightDecay);
            foreach (var indices in Data.BatchIndices(options.BatchSize, options.Seed).Take(4))
            {
                using var scope = torch.NewDisposeScope();
                var (images, labels) = Data.Batch(indices);
                sgd.zero_grad();
                Standard().Compute(before, images, labels).Total.backward();
                sgd.step();
            }

            var folder = Directory.CreateDirectory(temp.Combine("step-00000004")).FullName;
            before.save(Path.Combine(folder, TrainingSnapshots.Weights));
            sgd.save_state_dict(Path.Combine(folder, TrainingSnapshots.LegacyOptimizer));
            File.WriteAllText(Path.Combine(folder, "state.json"), JsonSerializer.Serialize(new { Step = 4, LearningRate }));
        }

        using var resumed = NewModel(seed: 99);
        var outcome = AdversarialTrainer.Train(resumed, Standard(), Data, options, torch.CPU, snapshots: new TrainingSnapshotOptions(temp.Path, Every: 100));

        Assert.Equal(4, outcome.ResumedFromStep);
        Assert.True(MaxDifference(uninterrupted, resumed) < 1e-5, $"weights differ by {MaxDifference(uninterrupted, resumed)}");
    }

    [Fact]
    public void Constructor_ParametersOnDifferentElementTypes_IsRefused()
    {
        using var model = NewModel();
        var parameters = model.parameters().ToArray();
        using var half = new TorchSharp.Modules.Parameter(torch.zeros(3, dtype: ScalarType.Float64));

        Assert.Throws<ArgumentException>(() => new FlatSgd([.. parameters, half], LearningRate, Momentum, WeightDecay));
    }

    private static ITrainingObjective Standard() => TrainingObjectives.Create(TrainingObjectives.Standard, new ObjectiveOptions());

    private static nn.Module<Tensor, Tensor> NewModel(int seed = 1)
    {
        torch.manual_seed(seed);
        return ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
    }

    private static double MaxDifference(nn.Module<Tensor, Tensor> a, nn.Module<Tensor, Tensor> b)
    {
        using var scope = torch.NewDisposeScope();
        return a.parameters().Zip(b.parameters(), (x, y) => (x - y).abs().max().item<float>()).Max();
    }

    private sealed class StopAfter(int step, CancellationTokenSource cancel) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.Step == step)
            {
                cancel.Cancel();
            }
        }
    }
}
