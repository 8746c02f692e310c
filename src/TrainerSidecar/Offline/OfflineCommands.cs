using System.Globalization;
using HardPair.CommandLine;
using HardPair.ML.Attacks;
using HardPair.ML.Evaluation;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;

namespace HardPair.TrainerSidecar.Offline;

/// <summary>
/// <c>train</c> and <c>evaluate</c>: the sidecar's executable run as a command instead of a
/// host. Progress goes to stderr, results to stdout; every failure is one line and a non-zero exit.
/// </summary>
public static class OfflineCommands
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Cancelled = 130;
    private const string Prefix = "hardpair-trainer";

    public const string Help = """
        usage: HardPair.TrainerSidecar <command> [options]      (no command: run the sidecar host)

          train [--method pgd-at|standard|trades|spat|hardpair] --epochs N --out STORE
                [--train-subset N] [--seed S] [--device auto|cpu|cuda[:N]] [--epsilon E]
                [--attack-steps K] [--attack-step-size A] [--architecture small-cnn|preact-resnet18]
                [--head cosine|linear] [--scale S] [--beta B] [--margin M] [--consistency-weight N]
                [--detach-weights true|false] [--clamp-weights true|false] [--partner-margin D]
                [--partner-attack-share R]
                [--learning-rate L] [--batch-size B] [--weight-decay W] [--schedule step|cosine|onecycle]
                [--ema D] [--split test|validation] [--partners CHECKPOINT|C0,C1,...]
                [--snapshots DIR] [--snapshot-every STEPS]
                [--test-subset N] [--clean-subset N] [--attacks clean,pgd20,cw,apgd-ce,autoattack] [--threads T]
                [--dataset fashion-mnist|mnist] [--data DIR] [--signing-key-file FILE]
              (method pgd-at by default; head linear for pgd-at and standard, else cosine)
              trains, evaluates and publishes a verified checkpoint into the store STORE
              (signed with the key in FILE, for a deployment that requires signatures);
              with --snapshots, the same command started again resumes the training;
              prints a JSON summary on stdout

          evaluate --checkpoint DIR [--attacks clean,pgd20,cw,apgd-ce,autoattack] [--test-subset N]
                   [--clean-subset N] [--seed S] [--epsilon E] [--split test|validation]
                   [--partners CHECKPOINT|C0,C1,...] [--json] [--device D] [--threads T] [--data DIR]
              DIR is a checkpoint folder, or a store (its latest valid version); prints accuracy
              per attack, hard-pair share, ECE and a per-class table (--json: one JSON object)

          --split validation measures on the held-out validation part of the training split
          (5 000 images) instead of the test set: for choosing settings. --partners scores the
          hard-pair share against CHECKPOINT's hard partners, or against the map C0,C1,... (class i's
          partner is Ci), from APGD-CE's examples when apgd-ce ran, so that several models are
          compared on the same pairs.

          attacks: fgsm, pgdK, cw, apgd-ce[K], apgd-dlr[K], apgd-t[N][xK], square[Q], and suites
          (the per-example worst case, each attack on the points the earlier ones left standing):
          autoattack (= apgd-ce+apgd-t+square) or names joined by +. Robust accuracy is measured on
          the first --test-subset test images (1 000), clean accuracy on the first --clean-subset (all).
        """;

    /// <summary>True when <paramref name="args"/> name an offline command rather than host settings.</summary>
    public static bool Handles(IReadOnlyList<string> args) =>
        args is [var first, ..] && first is "train" or "evaluate" or "help" or "--help" or "-h";

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error, bool interactive, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        try
        {
            var line = CommandArguments.Parse([.. args.Skip(1)]);
            var progress = new ConsoleProgress(error, interactive);
            return args[0] switch
            {
                "train" => TrainCommand.Run(line, output, progress, cancellationToken),
                "evaluate" => EvaluateCommand.Run(line, output, progress, cancellationToken),
                _ => ShowHelp(output),
            };
        }
        catch (UsageException ex)
        {
            error.WriteLine($"{Prefix}: {ex.Message} (see --help)");
            return Usage;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine($"{Prefix}: cancelled; nothing was published");
            return Cancelled;
        }
        catch (Exception ex) when (ex is CheckpointException or DatasetException or TorchRuntimeException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"{Prefix}: {ex.Message}");
            return Failed;
        }
    }

    private static int ShowHelp(TextWriter output)
    {
        output.WriteLine(Help);
        return Ok;
    }

    /// <summary>Device and threads, validated, then the runtime started.</summary>
    internal static void StartTorch(CommandArguments line)
    {
        var device = line.Optional("device") ?? "auto";
        try
        {
            DeviceRequest.Parse(device);
        }
        catch (ArgumentException)
        {
            throw new UsageException($"--device must be auto, cpu, cuda or cuda:N, not '{device}'");
        }

        var threads = line.Int("threads", 0, 0, 1024);
        TorchRuntime.Initialize(new TorchRuntimeOptions { Device = device, Threads = threads });
    }

    internal static DataOptions Data(CommandArguments line) => new()
    {
        Dataset = line.Choice("dataset", DatasetCatalog.FashionMnist, DatasetCatalog.Names),
        Folder = line.Optional("data"),
    };

    internal static IReadOnlyList<string> Attacks(CommandArguments line)
    {
        var text = line.Optional("attacks");
        if (text is null)
        {
            return AttackCatalog.DefaultEvaluation;
        }

        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var unknown = names.FirstOrDefault(n => !AttackCatalog.IsKnown(n));
        return unknown is not null || names.Length == 0
            ? throw new UsageException($"--attacks takes a comma-separated list of clean, fgsm, pgdK, cw, apgd-ce[K], apgd-dlr[K], apgd-t[N][xK], square[Q], autoattack or names joined by +; '{unknown ?? text}' is not one")
            : names;
    }

    /// <summary>
    /// What an evaluation measures on: <c>--split test</c> (the default) — the test split, the
    /// temperature fitted on the validation part — or <c>--split validation</c>: the held-out
    /// validation part of the training split (5 000 images) for both, so that settings are chosen
    /// without looking at the test set.
    /// </summary>
    internal static string Split(CommandArguments line) => line.Choice("split", "test", ["test", "validation"]);

    /// <summary>The images measured on for <see cref="Split"/>'s answer: the validation part itself, or the test split.</summary>
    internal static ImageDataset Measured(string split, ImageDataset validation, DataOptions data) =>
        split == "validation" ? validation : DatasetCatalog.Load(data, DatasetSplit.Test);

    /// <summary>
    /// <c>--partners CHECKPOINT|C0,C1,…</c>: the hard partner of each class, for a hard-pair share
    /// every model is scored on alike — either that checkpoint's (from its manifest's pair
    /// hardness) or the map itself, one class index per class (what an earlier run's JSON printed
    /// as <c>fixedPartners</c>), so that a table outlives the checkpoint its map came from.
    /// </summary>
    internal static int[]? FixedPartners(string? value, int classes)
    {
        if (value is null)
        {
            return null;
        }

        if (!Directory.Exists(value) && value.Contains(',', StringComparison.Ordinal))
        {
            return PartnerList(value, classes);
        }

        var manifest = CheckpointReader.ReadManifest(value);
        return manifest.PairHardness.Length == 0
            ? throw new UsageException($"--partners {value}: its manifest has no pair hardness")
            : HardPairStatistics.Partners(manifest.PairHardness);
    }

    private static int[] PartnerList(string value, int classes)
    {
        var parts = value.Split(',');
        if (parts.Length != classes)
        {
            throw new UsageException($"--partners {value}: names {parts.Length} partners, but the dataset has {classes} classes");
        }

        var partners = new int[classes];
        for (var c = 0; c < classes; c++)
        {
            if (!int.TryParse(parts[c], NumberStyles.None, CultureInfo.InvariantCulture, out partners[c]) || partners[c] >= classes || partners[c] == c)
            {
                throw new UsageException($"--partners {value}: class {c}'s partner must be another class from 0 to {classes - 1}, not '{parts[c]}'");
            }
        }

        return partners;
    }

    /// <summary>Robust accuracy on the first <c>--test-subset</c> test images (1 000), clean accuracy and calibration on the first <c>--clean-subset</c> (all).</summary>
    internal static (int Robust, int Clean) TestSubsets(CommandArguments line)
    {
        var robust = line.Int("test-subset", EvaluationProtocol.DefaultTestExamples, 1, 1_000_000);
        var clean = line.Int("clean-subset", int.MaxValue, 1, int.MaxValue);
        return (robust, Math.Max(robust, clean));
    }
}
