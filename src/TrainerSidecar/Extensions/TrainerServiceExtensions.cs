using HardPair.Hosting;
using HardPair.Hosting.Rpc;
using HardPair.ML.Models;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using HardPair.TrainerSidecar.Feedback;
using HardPair.TrainerSidecar.Health;
using HardPair.TrainerSidecar.Leadership;
using HardPair.TrainerSidecar.Options;
using HardPair.TrainerSidecar.Publishing;
using HardPair.TrainerSidecar.Runs;
using HardPair.TrainerSidecar.Services;
using HardPair.TrainerSidecar.Store;
using Microsoft.Extensions.Options;
using Polly;

namespace HardPair.TrainerSidecar.Extensions;

public static class TrainerServiceExtensions
{
    /// <summary>The configuration section holding the control API's bearer token (<c>Token</c> or <c>TokenFile</c>).</summary>
    public const string ControlSection = "Control";

    public static IHostApplicationBuilder AddTrainerServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddTorchRuntime(builder.Configuration);
        builder.AddTransportSecurity();
        builder.AddValidatedOptions<CheckpointStoreOptions>(CheckpointStoreOptions.SectionName);
        builder.AddValidatedOptions<TrainerOptions>(TrainerOptions.SectionName);
        builder.AddBearerTokenAuthentication(ControlSection);
        builder.AddValidatedOptions<NotifyOptions>(NotifyOptions.SectionName);
        builder.AddValidatedOptions<DataOptions>(DataOptions.SectionName);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => CheckpointSigning.From(sp.GetRequiredService<IOptions<CheckpointStoreOptions>>().Value));
        services.AddSingleton(sp => new CheckpointStore(
            sp.GetRequiredService<IOptions<CheckpointStoreOptions>>().Value.Path,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<CheckpointSigning>()));
        services.AddSingleton(sp => new RunStore(sp.GetRequiredService<IOptions<TrainerOptions>>().Value.StatePath));
        services.AddSingleton(sp => new FeedbackLog(
            Path.Combine(sp.GetRequiredService<IOptions<TrainerOptions>>().Value.StatePath, "feedback"),
            DatasetCatalog.Shape(sp.GetRequiredService<IOptions<DataOptions>>().Value.Dataset),
            // Replicas share the state folder: each sidecar appends to a file of its own.
            sp.GetRequiredService<IOptions<LeaderElectionOptions>>().Value is { Enabled: true } election ? election.ResolveIdentity() : null));
        services.AddSingleton<RunEvents>();
        services.AddSingleton<RunCoordinator>();
        services.AddSingleton<FollowerRuns>();
        services.AddSingleton<LeaderRuns>();
        services.AddSingleton<IRunControl, ReplicaRuns>();
        services.AddSingleton<RunExecutor>();
        services.AddSingleton<TrainerMetrics>();
        services.AddSingleton<ICheckpointNotifier, CheckpointNotifier>();
        services.AddResilienceLogging();
        services.AddResiliencePipeline(CheckpointNotifier.PipelineName, (pipeline, context) =>
            CheckpointNotifier.ConfigurePipeline(pipeline, context.ServiceProvider.GetRequiredService<IOptions<NotifyOptions>>().Value));
        services.AddHostedService<StagingCleanup>();
        // Before the workers and the server: the runs are read from the state folder first.
        services.AddHostedService<RunRecovery>();
        builder.AddValidatedOptions<LeaderElectionOptions>(LeaderElectionOptions.SectionName);
        services.AddSingleton<k8s.LeaderElection.ILock>(sp => TrainingLeadership.CreateLeaseLock(sp.GetRequiredService<IOptions<LeaderElectionOptions>>().Value));
        services.AddSingleton<TrainingLeadership>();
        services.AddHostedService(sp => sp.GetRequiredService<TrainingLeadership>());
        services.AddHostedService<TrainerWorker>();
        services.AddHostedService<RunRequestIntake>();

        builder.AddMetricsExport(TrainerMetrics.MeterName);
        builder.AddTracingExport(TrainerTracing.SourceName);

        services.AddGrpc(options => options.MaxReceiveMessageSize = 16 * 1024 * 1024)
            .AddServiceOptions<TrainerService>(options => options.Interceptors.Add<BearerTokenInterceptor>());
        services.AddUnparsableRequestStatus();
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(options => options.Services.Map(ServiceDefaults.LivenessService, result => result.Name == ServiceDefaults.ProcessCheck))
            .AddCheck(ServiceDefaults.ProcessCheck, () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("answering"))
            .AddCheck<TorchReadinessCheck>(TorchReadinessCheck.Name);
        return builder;
    }

    public static WebApplication MapTrainerEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseFrameFlagCheck();
        app.MapGrpcService<TrainerService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
