using System.Text.Json;
using HardPair.ML.Training;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.TrainerSidecar.Tests.Offline;

/// <summary>The sidecar executable run for real as <c>train</c> and then <c>evaluate</c>, as an ML engineer would.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Process)]
public sealed class TrainAndEvaluateProcessTests
{
    private const string Executable = "HardPair.TrainerSidecar";
    private const string SigningKey = "offline-train-signing-key-0123456789abcdef";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task TrainThenEvaluate_PublishesAVerifiedEvaluatedCheckpoint_AndReportsTheSameNumbers()
    {
        using var temp = new TempDirectory();
        var store = temp.Combine("store");
        var keyFile = temp.Combine("signing-key");
        File.WriteAllText(keyFile, SigningKey + "\n");
        var ct = TestContext.Current;

        var train = await ChildProcess.RunAsync(
            Executable,
            ["train", "--method", "trades", "--epochs", "0.5", "--train-subset", "1000", "--attack-steps", "3", "--seed", "4",
             "--device", "cpu", "--threads", "2", "--test-subset", "200", "--attacks", "clean,fgsm,pgd5", "--out", store,
             "--signing-key-file", keyFile],
            Timeout,
            ct);

        Assert.True(train.ExitCode == 0, train.Error);
        // Redirected, so plain progress lines (no carriage returns) and a JSON summary alone on stdout.
        Assert.DoesNotContain('\r', train.Error);
        Assert.Contains("step 4/4 epoch 0.50", train.Error, StringComparison.Ordinal);
        using var summary = JsonDocument.Parse(Assert.Single(train.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var folder = summary.RootElement.GetProperty("checkpoint").GetString()!;
        // Signed with the given key: a deployment that requires signatures serves it.
        var manifest = CheckpointReader.Verify(folder, signing: CheckpointSigning.WithKey(SigningKey));
        Assert.Equal("trades", manifest.Training.Method);
        Assert.Equal(3, manifest.Training.HyperParameters["attackSteps"]);
        Assert.Equal(1000, manifest.Dataset.TrainExamples);
        Assert.Equal(5000, manifest.Dataset.ValidationExamples);
        Assert.Equal(200, manifest.Metrics.EvaluatedExamples);
        Assert.Equal(10_000, manifest.Metrics.CleanExamples);
        Assert.Equal(CheckpointManifest.CurrentSchemaVersion, manifest.SchemaVersion);
        Assert.Equal(["fgsm", "pgd5"], manifest.Metrics.Robust.Select(r => r.Attack));
        Assert.All(manifest.Metrics.Robust, r => Assert.Equal(200, r.Examples));
        // No suite ran: the headline is the lowest single attack, and says it is not a worst case.
        var lowest = manifest.Metrics.Robust.MinBy(r => r.Accuracy)!;
        Assert.Equal(new RobustSummary(lowest.Attack, 0.1, lowest.Accuracy, 200, WorstCase: false), manifest.Metrics.RobustSummary);
        Assert.Equal(lowest.Attack, manifest.Metrics.PairHardnessSource);
        Assert.NotNull(manifest.Metrics.HardPairShare);
        Assert.Equal(10, manifest.PairHardness.Length);
        Assert.NotNull(manifest.Calibration);
        Assert.NotEqual(1.0, manifest.CalibrationTemperature);

        // The summary carries what the robustness report plots: the training curve (4 steps, one
        // window each here) and every attack's confusion, whose diagonal is its accuracy.
        var history = summary.RootElement.GetProperty("history");
        Assert.Equal([1, 2, 3, 4], history.EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));
        Assert.All(history.EnumerateArray(), p => Assert.True(double.IsFinite(p.GetProperty("robustLoss").GetDouble())));
        var pgd = summary.RootElement.GetProperty("evaluation").GetProperty("attacks")[1];
        var confusion = pgd.GetProperty("confusion").EnumerateArray().Select(row => row.EnumerateArray().Select(c => c.GetInt64()).ToArray()).ToArray();
        Assert.Equal(200, confusion.Sum(row => row.Sum()));
        Assert.Equal(manifest.Metrics.Robust[1].Accuracy, Enumerable.Range(0, 10).Sum(i => confusion[i][i]) / 200.0, 9);

        var evaluate = await ChildProcess.RunAsync(
            Executable,
            ["evaluate", "--checkpoint", store, "--test-subset", "200", "--attacks", "clean,pgd5", "--json", "--threads", "2"],
            Timeout,
            ct);

        Assert.True(evaluate.ExitCode == 0, evaluate.Error);
        using var report = JsonDocument.Parse(Assert.Single(evaluate.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var root = report.RootElement;
        Assert.Equal(manifest.Version, root.GetProperty("version").GetString());
        Assert.Equal(manifest.Metrics.CleanAccuracy, root.GetProperty("clean").GetDouble());
        Assert.Equal(manifest.Metrics.Robust[1].Accuracy, root.GetProperty("attacks")[0].GetProperty("accuracy").GetDouble());
        Assert.Equal(manifest.CalibrationTemperature, root.GetProperty("calibration").GetProperty("temperature").GetDouble(), 9);
        Assert.Equal(10, root.GetProperty("classes").GetArrayLength());

        var table = await ChildProcess.RunAsync(Executable, ["evaluate", "--checkpoint", folder, "--test-subset", "100", "--attacks", "clean,fgsm"], Timeout, ct);

        Assert.True(table.ExitCode == 0, table.Error);
        Assert.Contains("hard-pair share (fgsm)", table.Output, StringComparison.Ordinal);
        Assert.Contains("Pullover", table.Output, StringComparison.Ordinal);
        Assert.Contains("hard partner", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_WithSnapshots_KilledMidRun_ResumesWhenStartedAgain_AndPublishesOnce()
    {
        using var temp = new TempDirectory();
        var snapshots = temp.Combine("snapshots");
        string[] command =
        [
            "train", "--method", "pgd-at", "--epochs", "2", "--train-subset", "1000", "--attack-steps", "3", "--seed", "4", "--ema", "0.99",
            "--device", "cpu", "--threads", "2", "--test-subset", "100", "--attacks", "clean,fgsm", "--out", temp.Combine("store"),
            "--snapshots", snapshots, "--snapshot-every", "4",
        ];
        var ct = TestContext.Current;

        var killed = await ChildProcess.RunAsync(Executable, command, Timeout, ct, killWhen: () => TrainingSnapshots.Latest(snapshots)?.Step >= 8);
        Assert.Equal(137, killed.ExitCode);
        Assert.False(Directory.Exists(temp.Combine("store")) && Directory.EnumerateDirectories(temp.Combine("store"), "v*").Any());
        var resumedFrom = TrainingSnapshots.Latest(snapshots)!.Step;

        // Another budget (--epochs 3) does not resume this run's state.
        var other = await ChildProcess.RunAsync(Executable, [.. command[..4], "3", .. command[5..]], Timeout, ct);
        Assert.True(other.ExitCode == 2, other.Error);
        Assert.Contains("holds another run's training state", other.Error, StringComparison.Ordinal);

        var resumed = await ChildProcess.RunAsync(Executable, command, Timeout, ct);

        Assert.True(resumed.ExitCode == 0, resumed.Error);
        Assert.Contains($"resuming from the snapshot after step {resumedFrom}", resumed.Error, StringComparison.Ordinal);
        using var summary = JsonDocument.Parse(Assert.Single(resumed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(resumedFrom, summary.RootElement.GetProperty("resumedFromStep").GetInt32());
        // The curve runs over the whole run, the killed process's part included (16 steps, one per point).
        Assert.Equal(Enumerable.Range(1, 16), summary.RootElement.GetProperty("history").EnumerateArray().Select(p => p.GetProperty("step").GetInt32()));
        Assert.False(Directory.Exists(snapshots));
        CheckpointReader.Verify(Assert.Single(Directory.EnumerateDirectories(temp.Combine("store"), "v*")));
    }
}
