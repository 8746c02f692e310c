using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>The <c>hardpair</c> CLI as a real process against the real stack.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class CliTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Cli_AgainstTheStack_ClassifiesManagesModelsAndRetrains()
    {
        await using var stack = Stack.Create();
        await stack.StartInferenceAsync(TestContext.Current);
        await stack.StartSidecarAsync(TestContext.Current);
        var address = stack.InferenceAddress.ToString();
        var withToken = new Dictionary<string, string> { ["HARDPAIR_TOKEN"] = Stack.Token, ["HARDPAIR_ADDRESS"] = address };

        var classify = await Cli(["classify", "--dataset-index", "0", "--probe"], withToken);
        Assert.True(classify.ExitCode == 0, classify.Error);
        Assert.Contains("test image 0 (labelled Ankle boot)", classify.Output, StringComparison.Ordinal);
        Assert.Contains("hard pair:", classify.Output, StringComparison.Ordinal);
        Assert.Contains("robustness probe (PGD-10, ε 0.1)", classify.Output, StringComparison.Ordinal);
        Assert.Contains($"model {Stack.BootstrapVersion}", classify.Output, StringComparison.Ordinal);

        var list = await Cli(["models", "list"], withToken);
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Contains($"{Stack.BootstrapVersion}    serving", list.Output, StringComparison.Ordinal);
        // The shipped manifest's method and headline robust number, named by its suite and image count.
        var shipped = HardPair.Storage.Checkpoints.CheckpointReader.Verify(Repository.Bootstrap);
        var headline = shipped.Metrics.RobustSummary!;
        var robust = System.Text.RegularExpressions.Regex.Escape(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{headline.Accuracy:P1} {headline.Attack}"));
        Assert.Matches($@"{Stack.BootstrapVersion}\s+serving\s+{shipped.Training.Method}\s+\S+ %\s+{robust}\s+{headline.Examples}\s", list.Output);

        var feedback = await Cli(["feedback", "add", "--dataset-index", "3"], withToken);
        Assert.True(feedback.ExitCode == 0, feedback.Error);
        Assert.Contains("the feedback log holds 1 example(s)", feedback.Output, StringComparison.Ordinal);

        var retrain = await Cli(["retrain", "--epochs", "0.5", "--train-subset", "2000", "--watch"], withToken);
        Assert.Contains("training: fine-tuning", retrain.Output, StringComparison.Ordinal);
        Assert.Matches(@"step (\d+)/\1 ", retrain.Output);
        Assert.Matches("(published v\\S+ \\(accepted|not published: rejected)", retrain.Output);
        if (System.Text.RegularExpressions.Regex.Match(retrain.Output, @"published (v\S+) \(accepted") is { Success: true } published)
        {
            // A cycle's checkpoint carries the gate suite's worst case on the gate's test images.
            var after = await Cli(["models", "list"], withToken);
            Assert.Matches($@"{published.Groups[1].Value}\s+(serving|available)\s+{shipped.Training.Method}\s+\S+ %\s+\S+ % apgd-ce5\+apgd-t1x5\s+200\s", after.Output);
        }

        var status = await Cli(["status"], withToken);
        Assert.True(status.ExitCode == 0, status.Error);
        Assert.Contains("trainer   idle on cpu; 0 queued; 1 feedback examples", status.Output, StringComparison.Ordinal);

        // What the pod's probes ask, asked as a script would (no token: health is open).
        var ready = await Cli(["health", "--service", "hardpair.v1.Classifier"], new Dictionary<string, string> { ["HARDPAIR_ADDRESS"] = address });
        Assert.True(ready.ExitCode == 0, ready.Output + ready.Error);
        Assert.Equal($"hardpair.v1.Classifier SERVING at {address}", ready.Output.Trim());
        var trainerAlive = await Cli(["health", "--service", "liveness", "--address", stack.SidecarAddress.ToString()], []);
        Assert.True(trainerAlive.ExitCode == 0, trainerAlive.Output + trainerAlive.Error);
        var unknown = await Cli(["health", "--service", "hardpair.v1.Nothing"], withToken);
        Assert.Equal((1, $"hardpair.v1.Nothing unknown service at {address}"), (unknown.ExitCode, unknown.Output.Trim()));
        var down = await Cli(["health", "--address", "http://127.0.0.1:9", "--wait", "1"], []);
        Assert.Equal(1, down.ExitCode);
        Assert.StartsWith("(server) unreachable (", down.Output, StringComparison.Ordinal);

        var wrongToken = await Cli(["models", "list"], new Dictionary<string, string> { ["HARDPAIR_TOKEN"] = "nope-nope-nope-nope", ["HARDPAIR_ADDRESS"] = address });
        Assert.Equal(1, wrongToken.ExitCode);
        Assert.Equal("hardpair: UNAUTHENTICATED: the bearer token is not valid", wrongToken.Error.Trim());

        var nobody = await Cli(["classify", "--dataset-index", "0", "--address", "http://127.0.0.1:9"], []);
        Assert.Equal(1, nobody.ExitCode);
        Assert.StartsWith("hardpair: UNAVAILABLE: ", Assert.Single(nobody.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);

        var usage = await Cli(["classify"], withToken);
        Assert.Equal(2, usage.ExitCode);
        Assert.Equal("hardpair: give a PNG file or --dataset-index N", usage.Error.Trim());
    }

    private static Task<ChildProcess.Result> Cli(string[] args, Dictionary<string, string> environment) =>
        ChildProcess.RunAsync(Executables.Path("Cli", "hardpair"), args, Timeout, TestContext.Current, environment);
}
