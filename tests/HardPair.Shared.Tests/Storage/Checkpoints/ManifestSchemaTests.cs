using HardPair.ML.Checkpoints;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Storage.Checkpoints;

/// <summary>Schema 2 changed what robust accuracy means; schema-1 stores (the first shipped bootstrap checkpoint, kept as a fixture) are still read, and say what their number is.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ManifestSchemaTests
{
    private static string SchemaOne => Repository.SchemaOneCheckpoint;

    [Fact]
    public void Verify_SchemaOneCheckpoint_ReadsWithItsLowestSingleAttackAsTheSummary()
    {
        var manifest = CheckpointReader.Verify(SchemaOne);

        Assert.Equal(1, manifest.SchemaVersion);
        Assert.Equal(1000, manifest.Metrics.CleanExamples);
        Assert.All(manifest.Metrics.Robust, r => Assert.Equal(1000, r.Examples));
        // pgd20 55.1 %, cw 51.2 %, apgd 54.4 %: the lowest, labelled as the single attack it is.
        Assert.Equal(new RobustSummary("cw", 0.1, 0.512, 1000, WorstCase: false), manifest.Metrics.RobustSummary);
    }

    [Fact]
    public void AsCurrentSchema_LeavesASchemaTwoManifestAlone()
    {
        var manifest = TestCheckpoints.Draft() with
        {
            Metrics = new MetricsRecord { CleanExamples = 10_000, EvaluatedExamples = 1000, RobustSummary = RobustSummary.Of("autoattack", 0.1, 0.5, 1000) },
        };

        Assert.Same(manifest, manifest.AsCurrentSchema());
        Assert.True(manifest.Metrics.RobustSummary!.WorstCase);
    }

    [Fact]
    public void Store_ListsAndLoadsASchemaOneCheckpoint()
    {
        using var temp = new TempDirectory();
        var version = Path.GetFileName(SchemaOne);
        Directory.CreateDirectory(Path.Combine(temp.Path, version));
        foreach (var file in Directory.GetFiles(SchemaOne))
        {
            File.Copy(file, Path.Combine(temp.Path, version, Path.GetFileName(file)));
        }

        var store = new CheckpointStore(temp.Path, TimeProvider.System);
        var entry = Assert.Single(store.List());

        Assert.True(entry.IsValid, entry.Fault);
        Assert.Equal("cw", entry.Manifest!.Metrics.RobustSummary!.Attack);
        using var loaded = store.Load(version, TorchSharp.torch.CPU);
        Assert.Equal(version, loaded.Manifest.Version);
    }
}
