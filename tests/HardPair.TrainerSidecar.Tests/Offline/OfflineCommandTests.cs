using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using HardPair.TrainerSidecar.Offline;

namespace HardPair.TrainerSidecar.Tests.Offline;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class OfflineCommandTests
{
    public static TheoryData<string[], string> BadCommandLines() => new()
    {
        { ["train", "--epochs", "1"], "--out is required" },
        { ["train", "--method", "madry", "--epochs", "1", "--out", "x"], "--method must be one of standard, pgd-at, trades, spat, hardpair, not 'madry'" },
        { ["train", "--method", "spat", "--out", "x"], "--epochs is required" },
        { ["train", "--method", "spat", "--epochs", "abc", "--out", "x"], "--epochs must be a number from 0.01 to 10000, not 'abc'" },
        { ["train", "--method", "spat", "--epochs", "-1", "--out", "x"], "--epochs must be a number from 0.01 to 10000, not '-1'" },
        { ["train", "--method", "spat", "--epochs", "NaN", "--out", "x"], "--epochs must be a number" },
        { ["train", "--method", "spat", "--epochs", "1"], "--out is required" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--device", "gpu"], "--device must be auto, cpu, cuda or cuda:N, not 'gpu'" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--signing-key-file", "/nonexistent/key"], "--signing-key-file /nonexistent/key does not exist" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--epsilon", "2"], "--epsilon must be a number from 0 to 1, not '2'" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--attack-steps", "0"], "--attack-steps must be a whole number from 1 to 1000, not '0'" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--train-subset", "ten"], "--train-subset must be a whole number" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--seed", "1.5"], "--seed must be a whole number" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--head", "round"], "--head must be one of cosine, linear, not 'round'" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--attacks", "clean,squares"], "'squares' is not one" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--dataset", "cifar10"], "--dataset must be one of fashion-mnist, mnist, not 'cifar10'" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--epoch", "3"], "unknown option --epoch" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--method", "standard"], "--method given twice" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--architecture", "preact-resnet18"], "--architecture preact-resnet18 takes 3x32x32 images, but fashion-mnist has 1x28x28" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--partners", "1,0,3"], "--partners 1,0,3: names 3 partners, but the dataset has 10 classes" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--partners", "6,3,4,0,2,7,0,5,2,9"], "class 9's partner must be another class from 0 to 9, not '9'" },
        { ["train", "--method", "spat", "--epochs", "1", "--out", "x", "--partners", "6,3,4,0,2,7,0,5,2,-7"], "class 9's partner must be another class from 0 to 9, not '-7'" },
        { ["evaluate"], "--checkpoint is required" },
        { ["evaluate", "--checkpoint", "x", "--test-subset", "0"], "--test-subset must be a whole number from 1 to 1000000, not '0'" },
        { ["evaluate", "--checkpoint", "x", "--json", "yes"], "--json takes no value" },
        { ["evaluate", "--checkpoint", "x", "--attacks", "pgd"], "'pgd' is not one" },
        { ["evaluate", "--checkpoint", "x", "stray"], "expected 0 argument(s), got 1" },
    };

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public void Run_BadFlagValue_PrintsOneLineAndExitsWithUsage(string[] args, string message)
    {
        var (code, output, error) = RunInProcess(args);

        Assert.Equal(OfflineCommands.Usage, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("hardpair-trainer: ", line, StringComparison.Ordinal);
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    [Fact]
    public void FixedPartners_TheMapACheckpointImplies_IsTheMapItselfGivenAsAList()
    {
        var bootstrap = Repository.Bootstrap;

        var fromCheckpoint = OfflineCommands.FixedPartners(bootstrap, 10);
        var fromList = OfflineCommands.FixedPartners(string.Join(',', fromCheckpoint!), 10);

        Assert.Equal(fromCheckpoint, fromList);
        Assert.Null(OfflineCommands.FixedPartners(null, 10));
        Assert.Equal([6, 3, 4, 0, 2, 7, 0, 5, 2, 7], OfflineCommands.FixedPartners("6,3,4,0,2,7,0,5,2,7", 10)!);
    }

    [Fact]
    public void Run_CheckpointThatIsNotThere_FailsWithOneLine()
    {
        using var temp = new TempDirectory();

        var missing = RunInProcess(["evaluate", "--checkpoint", temp.Combine("nope")]);
        var empty = RunInProcess(["evaluate", "--checkpoint", temp.Path]);

        Assert.Equal(OfflineCommands.Failed, missing.Code);
        Assert.Contains("no such folder", Assert.Single(missing.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
        Assert.Equal(OfflineCommands.Failed, empty.Code);
        Assert.Contains("neither a checkpoint folder nor a store", Assert.Single(empty.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_DataFolderWithoutTheDataset_FailsWithOneLineNamingTheFile()
    {
        using var temp = new TempDirectory();

        var (code, _, error) = RunInProcess(["train", "--method", "standard", "--epochs", "1", "--out", temp.Combine("store"), "--data", temp.Path]);

        Assert.Equal(OfflineCommands.Failed, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("train-images-idx3-ubyte", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Cancelled_PublishesNothing()
    {
        using var temp = new TempDirectory();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        var (code, output, error) = RunInProcess(["train", "--method", "standard", "--epochs", "1", "--train-subset", "500", "--out", temp.Path], cancelled.Token);

        Assert.Equal(OfflineCommands.Cancelled, code);
        Assert.Equal("", output);
        Assert.Contains("cancelled; nothing was published", error, StringComparison.Ordinal);
        Assert.Empty(new CheckpointStore(temp.Path, TimeProvider.System).List());
    }

    [Fact]
    public void Run_Help_ListsBothCommands()
    {
        var (code, output, _) = RunInProcess(["--help"]);

        Assert.Equal(OfflineCommands.Ok, code);
        Assert.Contains("train [--method pgd-at|standard|trades|spat|hardpair]", output, StringComparison.Ordinal);
        Assert.Contains("evaluate --checkpoint DIR", output, StringComparison.Ordinal);
    }

    private static (int Code, string Output, string Error) RunInProcess(string[] args, CancellationToken cancellationToken = default)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = OfflineCommands.Run(args, output, error, interactive: false, cancellationToken);
        return (code, output.ToString(), error.ToString());
    }
}
