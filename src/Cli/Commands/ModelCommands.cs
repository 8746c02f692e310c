using System.Globalization;
using Google.Protobuf;
using HardPair.Cli.Remote;
using HardPair.CommandLine;
using HardPair.Protos.V1;

namespace HardPair.Cli.Commands;

/// <summary><c>hardpair models list | show VERSION | activate VERSION [--pin] | unpin</c></summary>
internal static class ModelCommands
{
    public static async Task<int> ListAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, CancellationToken cancellationToken)
    {
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(0);
        var reply = await connection.Admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: cancellationToken);
        if (reply.Models.Count == 0)
        {
            output.WriteLine("no checkpoints in the store");
            return CliApp.Ok;
        }

        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"{"VERSION",-32} {"STATE",-9} {"METHOD",-8} {"CLEAN",6} {"ROBUST",6} {"ATTACK",-15} {"IMAGES",6} {"HP-SHARE",8}  DETAIL"));
        foreach (var m in reply.Models)
        {
            var state = m.State.ToString().ToLowerInvariant();
            output.WriteLine(string.Create(c, $"{m.Version,-32} {state,-9} {m.TrainingMethod,-8} {m.CleanAccuracy,6:P1} {m.RobustAccuracy,6:P1} {m.RobustAttack,-15} {m.RobustExamples,6} {m.HardPairShare,8:0.00}  {m.Detail}"));
        }

        return CliApp.Ok;
    }

    public static async Task<int> ShowAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, CancellationToken cancellationToken)
    {
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(1);
        var version = line.Positionals[0];
        var reply = await connection.Admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: cancellationToken);
        var model = reply.Models.FirstOrDefault(m => m.Version == version)
            ?? throw new UsageException($"no checkpoint '{version}' (see hardpair models list)");
        output.WriteLine(JsonFormatter.Default.Format(model));
        if (model.State == ModelState.Serving)
        {
            output.WriteLine(JsonFormatter.Default.Format(await connection.Classifier.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: cancellationToken)));
        }

        return CliApp.Ok;
    }

    public static async Task<int> ActivateAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, bool unpin, CancellationToken cancellationToken)
    {
        var pin = !unpin && line.Flag("pin");
        using var connection = Connection.Open(line, environment);
        line.RejectUnknown(unpin ? 0 : 1);
        var reply = await connection.Admin.ActivateModelAsync(new ActivateModelRequest { Version = unpin ? "" : line.Positionals[0], Pin = pin }, cancellationToken: cancellationToken);
        output.WriteLine(reply.Detail);
        return CliApp.Ok;
    }
}
