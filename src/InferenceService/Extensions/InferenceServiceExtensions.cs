using HardPair.InferenceService.Health;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Hosting;

namespace HardPair.InferenceService.Extensions;

public static class InferenceServiceExtensions
{
    public static IHostApplicationBuilder AddInferenceServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTorchRuntime(builder.Configuration);
        builder.Services.AddOptions<CheckpointStoreOptions>()
            .Bind(builder.Configuration.GetSection(CheckpointStoreOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddGrpc();
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks()
            .AddCheck<ModelReadinessCheck>(ModelReadinessCheck.Name);
        return builder;
    }

    public static WebApplication MapInferenceEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
