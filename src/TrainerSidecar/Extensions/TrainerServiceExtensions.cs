using HardPair.Shared.Checkpoints;
using HardPair.Shared.Hosting;
using HardPair.TrainerSidecar.Health;
using HardPair.TrainerSidecar.Store;

namespace HardPair.TrainerSidecar.Extensions;

public static class TrainerServiceExtensions
{
    public static IHostApplicationBuilder AddTrainerServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTorchRuntime(builder.Configuration);
        builder.Services.AddOptions<CheckpointStoreOptions>()
            .Bind(builder.Configuration.GetSection(CheckpointStoreOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new CheckpointStore(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<CheckpointStoreOptions>>().Value.Path,
            sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<StagingCleanup>();

        builder.Services.AddGrpc();
        builder.Services.AddGrpcReflection();
        builder.Services.AddGrpcHealthChecks()
            .AddCheck<TorchReadinessCheck>(TorchReadinessCheck.Name);
        return builder;
    }

    public static WebApplication MapTrainerEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
