using HardPair.InferenceService.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddInferenceServices();

var app = builder.Build();
app.MapInferenceEndpoints();
app.Run();
