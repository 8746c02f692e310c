using HardPair.TrainerSidecar.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddTrainerServices();

var app = builder.Build();
app.MapTrainerEndpoints();
app.Run();
