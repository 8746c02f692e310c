using HardPair.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};
return await CliApp.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, interactive: !Console.IsOutputRedirected, cancellation.Token);
