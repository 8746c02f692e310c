using HardPair.ML.Evaluation;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.ML.Training;
using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Attacks;

/// <summary>
/// A small-cnn in the standard baseline's usual form (linear head, unscaled cross-entropy) trained
/// for ten epochs on 12 000 images (about 90% clean accuracy: an undertrained network keeps
/// spurious robustness, a trained one does not), and 500 test points.
/// </summary>
public sealed class StandardModelFixture : IDisposable
{
    public StandardModelFixture()
    {
        torch.manual_seed(1);
        var (trainPart, _) = EvaluationProtocol.HoldOut(DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train));
        var train = trainPart.Subset(12_000, seed: 1);
        Test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(500);
        Model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Linear);
        var objective = TrainingObjectives.Create(TrainingObjectives.Standard, new ObjectiveOptions { Scale = LogitScale });
        AdversarialTrainer.Train(Model, objective, train, new TrainingOptions { Epochs = 10 }, torch.CPU);
    }

    public const double LogitScale = 1;

    public nn.Module<Tensor, Tensor> Model { get; }

    public ImageDataset Test { get; }

    public void Dispose() => Model.Dispose();
}
