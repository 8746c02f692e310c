using HardPair.Testing;

namespace HardPair.Cli.Tests;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class CommandHelpTests
{
    [Theory]
    [InlineData(new[] { "classify", "--help" }, "classify FILE.png | --dataset-index N")]
    [InlineData(new[] { "models", "list", "--help" }, "models list ")]
    [InlineData(new[] { "retrain", "--method", "spat", "-h" }, "retrain [--method M]")]
    [InlineData(new[] { "checkpoints", "show", "--help" }, "checkpoints show DIR")]
    [InlineData(new[] { "checkpoints", "card", "--help" }, "checkpoints card DIR")]
    [InlineData(new[] { "feedback", "add", "--help" }, "feedback add FILE.png")]
    [InlineData(new[] { "status", "--help" }, "status ")]
    [InlineData(new[] { "health", "--help" }, "health [--service NAME]")]
    public void CommandHelp_PrintsThatCommandsUsageAndItsSectionsNotes(string[] args, string entry)
    {
        var (code, output, error) = Run(args);

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.StartsWith($"usage: hardpair {string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')).Take(2))} [options]", output, StringComparison.Ordinal);
        Assert.Contains(entry, output, StringComparison.Ordinal);
        // Only that command: no other command's entry.
        var others = new[] { "classify FILE", "models show", "retrain [", "checkpoints list", "feedback add", "status   " }.Where(o => !entry.StartsWith(o.Split(' ')[0], StringComparison.Ordinal));
        Assert.All(others, o => Assert.DoesNotContain("  " + o, output, StringComparison.Ordinal));
    }

    [Fact]
    public void GroupHelp_ListsEveryCommandOfTheGroup_WithTheTokenNote()
    {
        var (code, output, _) = Run("models", "--help");

        Assert.Equal(0, code);
        Assert.All(new[] { "models list", "models show", "models activate", "models unpin" }, c => Assert.Contains(c, output, StringComparison.Ordinal));
        Assert.Contains("$HARDPAIR_TOKEN", output, StringComparison.Ordinal);
        Assert.DoesNotContain("classify", output, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownCommandHelp_IsAUsageError()
    {
        var (code, output, error) = Run("bogus", "--help");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal("hardpair: unknown command 'bogus' (try hardpair --help)", error.Trim());
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
