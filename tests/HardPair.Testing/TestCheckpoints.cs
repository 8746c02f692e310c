using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;

namespace HardPair.Testing;

/// <summary>Manifests for checkpoints built in tests.</summary>
public static class TestCheckpoints
{
    public static CheckpointManifest Draft(string architecture = SmallCnn.ArchitectureName, ClassifierHeadKind head = ClassifierHeadKind.Cosine)
    {
        var spec = ModelRegistry.Get(architecture);
        var classes = DatasetCatalog.FashionMnistClasses.ToArray();
        return new CheckpointManifest
        {
            Architecture = architecture,
            Head = head.ToString().ToLowerInvariant(),
            InputShape = [spec.InputShape.Channels, spec.InputShape.Height, spec.InputShape.Width],
            ClassNames = classes,
            Training = new TrainingRecord { Method = "none", Seed = 1 },
            Dataset = new DatasetRecord { Name = DatasetCatalog.FashionMnist },
            Metrics = new MetricsRecord(),
            PairHardness = [.. Enumerable.Range(0, classes.Length).Select(_ => new double[classes.Length])],
        };
    }
}
