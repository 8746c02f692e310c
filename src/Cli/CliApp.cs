using HardPair.Cli.Commands;
using HardPair.Shared.CommandLine;

namespace HardPair.Cli;

/// <summary>`hardpair`: commands for people. Every failure is one readable line and a non-zero exit.</summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    private const string Help = """
        usage: hardpair <command> [options]

        commands:
          checkpoints list --store DIR [--verify]   versions in a checkpoint store, with their state
          checkpoints show DIR                      verify one checkpoint folder and print its manifest
        """;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            output.WriteLine(Help);
            return args.Length == 0 ? Usage : Ok;
        }

        try
        {
            return (args[0], args.Length > 1 ? args[1] : null) switch
            {
                ("checkpoints", "list") => CheckpointCommands.List(CommandArguments.Parse(args[2..]), output),
                ("checkpoints", "show") => CheckpointCommands.Show(CommandArguments.Parse(args[2..]), output),
                _ => throw new UsageException($"unknown command '{string.Join(' ', args.Take(2))}' (try hardpair --help)"),
            };
        }
        catch (UsageException ex)
        {
            error.WriteLine($"hardpair: {ex.Message}");
            return Usage;
        }
        catch (Exception ex) when (ex is Shared.Checkpoints.CheckpointException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"hardpair: {ex.Message}");
            return Failed;
        }
    }
}
