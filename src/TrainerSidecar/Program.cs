using HardPair.TrainerSidecar.Extensions;
using HardPair.TrainerSidecar.Offline;

if (OfflineCommands.Handles(args))
{
    return OfflineCommands.Run(args, Console.Out, Console.Error, interactive: !Console.IsErrorRedirected, ConsoleCancellation.Token());
}

var builder = WebApplication.CreateBuilder(args);
builder.AddTrainerServices();

var app = builder.Build();
app.MapTrainerEndpoints();
app.Run();
return 0;
