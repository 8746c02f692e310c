using System.Globalization;
using System.Text.Json;
using HardPair.CommandLine;
using HardPair.Storage.Checkpoints;

namespace HardPair.Cli.Commands;

/// <summary>Offline inspection of checkpoint stores and folders.</summary>
internal static class CheckpointCommands
{
    public static int List(CommandArguments line, TextWriter output)
    {
        var signing = Signing(line);
        var store = new CheckpointStore(line.Required("store"), TimeProvider.System, signing);
        var verify = line.Flag("verify");
        line.RejectUnknown(0);

        var entries = store.List(verifyWeights: verify);
        if (entries.Count == 0)
        {
            output.WriteLine($"no checkpoints in {store.Root}");
            return CliApp.Ok;
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"VERSION",-34} {"ARCHITECTURE",-16} {"METHOD",-8} {"CLEAN",6} {"ROBUST",6} {"ATTACK",-15}  STATE"));
        var pinned = PinnedVersion(store, output);
        foreach (var entry in entries)
        {
            if (entry.Manifest is { } m)
            {
                var summary = m.Metrics.RobustSummary;
                var robust = summary?.Accuracy.ToString("P1", CultureInfo.InvariantCulture) ?? "-";
                var attack = summary?.Attack ?? "-";
                output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{entry.Version,-34} {m.Architecture,-16} {m.Training.Method,-8} {m.Metrics.CleanAccuracy,6:P1} {robust,6} {attack,-15}  {(verify ? "verified" : "ok")}{SignatureState(entry.Folder, signing)}{(entry.Version == pinned ? ", pinned" : "")}"));
            }
            else
            {
                output.WriteLine($"{entry.Version,-34} {"-",-16} {"-",-8} {"-",6} {"-",6} {"-",-15}  refused: {entry.Fault}");
            }
        }

        return entries.All(e => e.IsValid) ? CliApp.Ok : CliApp.Failed;
    }

    public static int Show(CommandArguments line, TextWriter output)
    {
        var signing = Signing(line);
        line.RejectUnknown(1);
        var manifest = CheckpointReader.Verify(line.Positionals[0], signing: signing);
        output.WriteLine(JsonSerializer.Serialize(manifest, CheckpointFiles.Json));
        return CliApp.Ok;
    }

    public static int Card(CommandArguments line, TextWriter output)
    {
        var signing = Signing(line);
        line.RejectUnknown(1);
        output.Write(ModelCard.Render(CheckpointReader.Verify(line.Positionals[0], signing: signing)));
        return CliApp.Ok;
    }

    /// <summary>
    /// With <c>--signing-key-file</c> the deployment's key (and with <c>--seed-from</c> its bootstrap
    /// folder, whose versions it trusts unsigned), so that a version is refused here for the same
    /// signature faults the service refuses it for; without a key signatures go unchecked.
    /// </summary>
    private static CheckpointSigning Signing(CommandArguments line)
    {
        var seed = line.Optional("seed-from");
        if (line.Optional("signing-key-file") is not { } file)
        {
            return CheckpointSigning.None;
        }

        if (seed is not null && !Directory.Exists(seed))
        {
            throw new UsageException($"seed folder {seed} does not exist");
        }

        if (!File.Exists(file))
        {
            throw new UsageException($"signing key file {file} does not exist");
        }

        try
        {
            var signing = CheckpointSigning.WithKey(File.ReadAllText(file).Trim());
            return seed is null ? signing : signing.TrustingSeed(seed);
        }
        catch (SigningKeyException ex)
        {
            throw new UsageException($"signing key file {file}: {ex.Message}");
        }
    }

    /// <summary>The store's pin (the version every replica serves), or null; an unreadable pin file is said, not hidden.</summary>
    private static string? PinnedVersion(CheckpointStore store, TextWriter output)
    {
        try
        {
            return store.ReadPin()?.Version;
        }
        catch (CheckpointException ex)
        {
            output.WriteLine($"pin: unreadable ({ex.Fault}); the inference service keeps what it serves");
            return null;
        }
    }

    private static string SignatureState(string folder, CheckpointSigning signing) =>
        (signing.Enabled, File.Exists(Path.Combine(folder, CheckpointFiles.Signature))) switch
        {
            (true, true) => ", signed",
            (true, false) => ", bootstrap copy (trusted unsigned, from --seed-from)",
            (false, true) => " (signature not checked: no --signing-key-file)",
            _ => "",
        };
}
