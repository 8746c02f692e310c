using System.Globalization;
using Google.Protobuf;
using HardPair.Cli.Remote;
using HardPair.CommandLine;
using HardPair.Protos.V1;

namespace HardPair.Cli.Commands;

/// <summary><c>hardpair classify FILE.png | --dataset-index N [--top-k K] [--probe] [--json]</c></summary>
internal static class ClassifyCommand
{
    public static async Task<int> RunAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, CancellationToken cancellationToken)
    {
        var (image, label, description) = ImageSource.Read(line);
        var request = new ClassifyRequest { Image = image, TopK = line.Int("top-k", 3, 1, 1000), RobustnessProbe = line.Flag("probe") };
        var json = line.Flag("json");
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(line.Positionals.Count);

        var reply = await connection.Classifier.ClassifyAsync(request, cancellationToken: cancellationToken);
        if (json)
        {
            output.WriteLine(JsonFormatter.Default.Format(reply));
            return CliApp.Ok;
        }

        var c = CultureInfo.InvariantCulture;
        var verdict = label is { } truth ? (truth == reply.Label ? "  ✓ matches the label" : "  ✗ the label says otherwise") : "";
        output.WriteLine(string.Create(c, $"{description}: {reply.ClassName} ({reply.Confidence:P1} calibrated){verdict}"));
        output.WriteLine($"  top {reply.TopK.Count}: {string.Join(", ", reply.TopK.Select(s => string.Create(c, $"{s.ClassName} {s.Probability:P1}")))}");
        var pair = reply.HardPair;
        output.WriteLine(string.Create(
            c,
            $"  hard pair: {pair.First.ClassName} / {pair.Second.ClassName}, margin {pair.Margin:0.000}, pair hardness {pair.PairHardness:0.000}, {(pair.Ambiguous ? "AMBIGUOUS" : "not ambiguous")} (score {pair.AmbiguityScore:0.00})"));
        if (reply.Robustness is { Ran: true } probe)
        {
            output.WriteLine(string.Create(
                c,
                $"  robustness probe (PGD-{probe.Steps}, ε {probe.Epsilon:0.###}): {(probe.LabelFlips ? $"label flips to {probe.AdversarialClassName}" : "label holds")}"));
        }

        output.WriteLine($"  model {reply.ModelVersion}");
        return CliApp.Ok;
    }
}
