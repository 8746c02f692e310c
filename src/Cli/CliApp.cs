using System.Text;
using Grpc.Core;
using HardPair.Cli.Commands;
using HardPair.CommandLine;

namespace HardPair.Cli;

/// <summary>`hardpair`: commands for people. Every failure is one readable line and a non-zero exit.</summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    private const string Help = """
        usage: hardpair <command> [options]

        talking to the inference service (--address URL, or $HARDPAIR_ADDRESS; default http://127.0.0.1:50051):
          classify FILE.png | --dataset-index N [--top-k K] [--probe] [--json]
                                                   label, calibrated confidence, top-k, hard-pair signals
          models list                              every checkpoint: state, clean and robust accuracy (and
                                                   the attack or suite behind it), why refused
          models show VERSION                      one checkpoint (and the serving model's details)
          models activate VERSION [--pin]          verify and serve a version (--pin: hold it)
          models unpin                             follow the newest checkpoint again
          retrain [--method M] [--epochs E] [--train-subset N] [--reason R] [--watch]
                                                   queue a retraining run (--watch: follow it to the end)
          status                                   serving model, trainer, queue, last publish
          health [--service NAME] [--wait SECONDS]  a gRPC health check, as the pod's probes make it
                                                   (e.g. liveness, hardpair.v1.Classifier; the sidecar's
                                                   address for hardpair.v1.Trainer); exit 0 only if SERVING
          feedback add FILE.png --label L | --dataset-index N [--label L] [--source S]
                                                   a labelled example for fine-tuning (stored durably)
          admin commands need the token: $HARDPAIR_TOKEN, $HARDPAIR_TOKEN_FILE or --token-file
          (the local stack's .local/control-token is used when present)

        offline:
          checkpoints list --store DIR [--verify] [--signing-key-file F [--seed-from DIR]]
                                                   versions in a checkpoint store, with their state
          checkpoints show DIR [--signing-key-file F [--seed-from DIR]]
                                                   verify one checkpoint folder and print its manifest
          checkpoints card DIR [--signing-key-file F [--seed-from DIR]]
                                                   verify one checkpoint folder and print its model card
                                                   (Markdown: data, recipe, accuracy, per class, threat model)
          (--signing-key-file: the deployment's checkpoint signing key — HMAC text, or the PEM ECDSA
           public key, certificate or private key — so that signatures are checked too; --seed-from:
           the bootstrap folder whose versions the deployment trusts unsigned)
        """;

    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        RunAsync(args, output, error, Environment.GetEnvironmentVariable, interactive: false, CancellationToken.None).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, Func<string, string?> environment, bool interactive, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            output.WriteLine(Help);
            return args.Length == 0 ? Usage : Ok;
        }

        if (args.Skip(1).Any(a => a is "-h" or "--help"))
        {
            var command = args.TakeWhile(a => !a.StartsWith('-')).Take(2).ToArray();
            if (UsageOf(command) is { } usage)
            {
                output.WriteLine(usage);
                return Ok;
            }

            error.WriteLine($"hardpair: unknown command '{string.Join(' ', command)}' (try hardpair --help)");
            return Usage;
        }

        try
        {
            var second = args.Length > 1 ? args[1] : null;
            CommandArguments Rest(int skip) => CommandArguments.Parse(args[skip..]);
            return (args[0], second) switch
            {
                ("checkpoints", "list") => CheckpointCommands.List(Rest(2), output),
                ("checkpoints", "show") => CheckpointCommands.Show(Rest(2), output),
                ("checkpoints", "card") => CheckpointCommands.Card(Rest(2), output),
                ("classify", _) => await ClassifyCommand.RunAsync(Rest(1), environment, output, cancellationToken),
                ("models", "list") => await ModelCommands.ListAsync(Rest(2), environment, output, cancellationToken),
                ("models", "show") => await ModelCommands.ShowAsync(Rest(2), environment, output, cancellationToken),
                ("models", "activate") => await ModelCommands.ActivateAsync(Rest(2), environment, output, unpin: false, cancellationToken),
                ("models", "unpin") => await ModelCommands.ActivateAsync(Rest(2), environment, output, unpin: true, cancellationToken),
                ("retrain", _) => await TrainingCommands.RetrainAsync(Rest(1), environment, output, interactive, cancellationToken),
                ("status", _) => await TrainingCommands.StatusAsync(Rest(1), environment, output, cancellationToken),
                ("health", _) => await HealthCommand.RunAsync(Rest(1), environment, output, cancellationToken),
                ("feedback", "add") => await TrainingCommands.AddFeedbackAsync(Rest(2), environment, output, cancellationToken),
                _ => throw new UsageException($"unknown command '{string.Join(' ', args.Take(2))}' (try hardpair --help)"),
            };
        }
        catch (UsageException ex)
        {
            error.WriteLine($"hardpair: {ex.Message}");
            return Usage;
        }
        catch (RpcException ex)
        {
            error.WriteLine($"hardpair: {StatusName(ex.StatusCode)}: {ex.Status.Detail}");
            return Failed;
        }
        catch (Exception ex) when (ex is Storage.Checkpoints.CheckpointException or Storage.Data.DatasetException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"hardpair: {ex.Message}");
            return Failed;
        }
    }

    /// <summary>
    /// The lines of <see cref="Help"/> for <paramref name="command"/> (<c>classify</c>,
    /// <c>models list</c>, or a whole group such as <c>models</c>), with the notes of its section;
    /// null for no such command.
    /// </summary>
    internal static string? UsageOf(IReadOnlyList<string> command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var wanted = string.Join(' ', command);
        foreach (var section in Sections())
        {
            var entries = section.Blocks.Where(b => b.Command is { } name && (name == wanted || name.StartsWith(wanted + " ", StringComparison.Ordinal))).ToList();
            if (entries.Count > 0)
            {
                var notes = section.Blocks.Where(b => b.Command is null);
                return $"usage: hardpair {wanted} [options]\n\n{section.Header}\n"
                    + string.Join('\n', entries.Concat(notes).SelectMany(b => b.Lines));
            }
        }

        return null;
    }

    /// <summary>
    /// <see cref="Help"/> cut into its sections (a line ending in ':') and their blocks (a line
    /// indented by two, with the deeper-indented lines after it): a command's entry, or a note.
    /// </summary>
    private static IEnumerable<(string Header, List<(string? Command, List<string> Lines)> Blocks)> Sections()
    {
        string[] groups = ["models", "checkpoints", "feedback"];
        string[] singles = ["classify", "retrain", "status", "health"];
        (string Header, List<(string? Command, List<string> Lines)> Blocks)? section = null;
        foreach (var line in Help.Split('\n'))
        {
            if (line.Length > 0 && line[0] != ' ' && line.EndsWith(':'))
            {
                if (section is { } done)
                {
                    yield return done;
                }

                section = (line, []);
            }
            else if (section is { } current && line.StartsWith("  ", StringComparison.Ordinal) && line.Length > 2 && line[2] != ' ')
            {
                var words = line.Trim().Split(' ');
                var command = singles.Contains(words[0]) ? words[0]
                    : groups.Contains(words[0]) && words.Length > 1 ? $"{words[0]} {words[1]}"
                    : null;
                current.Blocks.Add((command, [line]));
            }
            else if (section is { Blocks.Count: > 0 } open && line.StartsWith("   ", StringComparison.Ordinal))
            {
                open.Blocks[^1].Lines.Add(line);
            }
        }

        if (section is { } last)
        {
            yield return last;
        }
    }

    /// <summary>UNAVAILABLE, INVALID_ARGUMENT, … as gRPC's documentation spells them.</summary>
    internal static string StatusName(StatusCode code)
    {
        var name = code.ToString();
        var builder = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                builder.Append('_');
            }

            builder.Append(char.ToUpperInvariant(name[i]));
        }

        return builder.ToString();
    }
}
