using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Storage.Checkpoints;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ModelCardTests
{
    [Fact]
    public void Render_SaysTheRecipeTheNumbersPerClassAndWhatRobustMeans()
    {
        var draft = TestCheckpoints.Draft(head: HardPair.ML.Models.ClassifierHeadKind.Linear);
        var hardness = draft.PairHardness.Select(row => row.ToArray()).ToArray();
        hardness[0][6] = hardness[6][0] = 0.31;
        var manifest = draft with
        {
            SchemaVersion = CheckpointManifest.CurrentSchemaVersion,
            Version = "v1",
            Training = new TrainingRecord { Method = "pgd-at", Epochs = 25, Seed = 3, HyperParameters = new() { ["learningRate"] = 0.05, ["attackSteps"] = 5, ["schedule"] = 2 } },
            Dataset = draft.Dataset with { TrainExamples = 55_000, ValidationExamples = 5_000 },
            Metrics = new MetricsRecord
            {
                CleanAccuracy = 0.8886,
                CleanExamples = 10_000,
                EvaluatedExamples = 1000,
                Robust = [new RobustAccuracy("autoattack", 0.1, 0, 0, 0.713) { Examples = 1000 }],
                RobustSummary = RobustSummary.Of("autoattack", 0.1, 0.713, 1000),
                HardPairShare = 0.51,
                PairHardnessSource = "autoattack",
                Classes = [.. draft.ClassNames.Select((name, i) => new ClassMetrics(name, 0.9, i == 6 ? 0.41 : 0.75, draft.ClassNames[i == 0 ? 6 : 0]))],
            },
            PairHardness = hardness,
        };

        var card = ModelCard.Render(manifest);

        Assert.Contains("| Clean accuracy | 88.9 % on 10,000 test images |", card, StringComparison.Ordinal);
        Assert.Contains("| Robust accuracy | 71.3 % under autoattack (per-example worst case) at ε = 0.1, first 1,000 test images |", card, StringComparison.Ordinal);
        Assert.Contains("per-example worst case of apgd-ce, apgd-t, square", card, StringComparison.Ordinal);
        Assert.Contains("not a certificate", card, StringComparison.Ordinal);
        Assert.Contains("nothing about other norms (L2", card, StringComparison.Ordinal);
        Assert.Contains("| learningRate | 0.05 |", card, StringComparison.Ordinal);
        Assert.Contains("| schedule | 2 (one-cycle) |", card, StringComparison.Ordinal);
        Assert.Contains("| training images | 55,000 (validation images held out: 5,000) |", card, StringComparison.Ordinal);
        Assert.Contains("| Shirt | 90.0 % | 41.0 % | T-shirt/top |", card, StringComparison.Ordinal);
        Assert.Contains("| T-shirt/top / Shirt | 0.310 |", card, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelCardDoc_IsTheShippedCheckpointsCard()
    {
        var manifest = CheckpointReader.Verify(Repository.Bootstrap);
        var doc = File.ReadAllText(Path.Combine(Repository.Root, "docs", "MODEL_CARD.md"));
        const string Begin = "<!-- card:begin -->";
        const string End = "<!-- card:end -->";
        var start = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"docs/MODEL_CARD.md holds the shipped card between {Begin} and {End}");

        var documented = doc[(start + Begin.Length)..end].Trim();

        Assert.Equal(ModelCard.Render(manifest).Trim(), documented);
        Assert.Contains($"checkpoints card models/bootstrap/{manifest.Version}", doc, StringComparison.Ordinal);
    }

    [Fact]
    public void ThreatModel_WithoutAnAttack_ClaimsNothing()
    {
        Assert.StartsWith("No robustness was measured", ModelCard.ThreatModel(TestCheckpoints.Draft()), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_ASchemaOneManifest_NamesItsSingleAttack_AndSaysPerClassWasNotRecorded()
    {
        var manifest = CheckpointReader.Verify(Repository.SchemaOneCheckpoint);

        var card = ModelCard.Render(manifest);

        Assert.Contains("under the single attack cw", card, StringComparison.Ordinal);
        Assert.Contains("Not recorded in this manifest", card, StringComparison.Ordinal);
    }
}
