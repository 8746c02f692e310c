using HardPair.Hosting;
using HardPair.Hosting.Rpc;
using HardPair.InferenceService.Admission;
using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Health;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.OpenInference;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Services;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using Microsoft.Extensions.Options;
using Polly;

namespace HardPair.InferenceService.Extensions;

public static class InferenceServiceExtensions
{
    /// <summary>The configuration section holding the admin API's bearer token (<c>Token</c> or <c>TokenFile</c>).</summary>
    public const string AdminSection = "Admin";

    public static IHostApplicationBuilder AddInferenceServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddTorchRuntime(builder.Configuration);
        builder.AddTransportSecurity();
        builder.AddValidatedOptions<CheckpointStoreOptions>(CheckpointStoreOptions.SectionName);
        builder.AddValidatedOptions<InferenceOptions>(InferenceOptions.SectionName);
        builder.AddValidatedOptions<SidecarOptions>(SidecarOptions.SectionName);
        builder.AddValidatedOptions<RateLimitOptions>(RateLimitOptions.SectionName);
        builder.AddValidatedOptions<OpenInferenceOptions>(OpenInferenceOptions.SectionName);
        builder.AddBearerTokenAuthentication(AdminSection);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => CheckpointSigning.From(sp.GetRequiredService<IOptions<CheckpointStoreOptions>>().Value));
        services.AddSingleton(sp => new CheckpointStore(
            sp.GetRequiredService<IOptions<CheckpointStoreOptions>>().Value.Path,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<CheckpointSigning>()));
        services.AddSingleton<ModelHost>();
        services.AddSingleton<CandidateVerifier>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<InferenceMetrics>();
        services.AddSingleton<RobustnessProber>();
        services.AddSingleton<ApiKeys>();
        services.AddSingleton<ClientRateLimiter>();
        services.AddSingleton<SidecarForwarder>();
        services.AddResilienceLogging();
        services.AddResiliencePipeline(SidecarForwarder.PipelineName, (pipeline, context) =>
            SidecarForwarder.ConfigurePipeline(pipeline, context.ServiceProvider.GetRequiredService<IOptions<SidecarOptions>>().Value));
        services.AddSingleton<CheckpointWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<CheckpointWatcher>());
        services.AddSingleton<InferenceBatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<InferenceBatcher>());
        services.AddSingleton<InferenceCalls>();
        services.AddSingleton<OpenInferenceModel>();
        services.AddHostedService<RestServer>();

        builder.AddMetricsExport(InferenceMetrics.MeterName);
        builder.AddTracingExport(InferenceTracing.SourceName);

        // A generous transport cap (Inference:MaxMessageBytes): anything below it that is still too
        // big for the model is an INVALID_ARGUMENT naming the field; only beyond it does gRPC itself
        // say RESOURCE_EXHAUSTED.
        var maxMessageBytes = builder.Configuration.GetSection(InferenceOptions.SectionName).Get<InferenceOptions>()?.MaxMessageBytes ?? new InferenceOptions().MaxMessageBytes;
        services.AddGrpc(options => options.MaxReceiveMessageSize = maxMessageBytes)
            .AddServiceOptions<AdminService>(options => options.Interceptors.Add<BearerTokenInterceptor>());
        services.AddUnparsableRequestStatus();
        services.AddGrpcReflection();
        // "liveness" is SERVING while the process answers (Kubernetes liveness and startup probes);
        // the overall status and "hardpair.v1.Classifier" need a loaded model.
        services.AddGrpcHealthChecks(options =>
            {
                options.Services.Map("hardpair.v1.Classifier", result => result.Name == ModelReadinessCheck.Name);
                options.Services.Map("inference.GRPCInferenceService", result => result.Name == ModelReadinessCheck.Name);
                options.Services.Map(ServiceDefaults.LivenessService, result => result.Name == ServiceDefaults.ProcessCheck);
            })
            .AddCheck(ServiceDefaults.ProcessCheck, () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy("answering"))
            .AddCheck<ModelReadinessCheck>(ModelReadinessCheck.Name);
        return builder;
    }

    public static WebApplication MapInferenceEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseFrameFlagCheck();
        app.MapGrpcService<ClassifierService>();
        app.MapGrpcService<OpenInferenceService>();
        var admin = app.MapGrpcService<AdminService>();
        var adminPort = app.Services.GetRequiredService<IOptions<InferenceOptions>>().Value.AdminPort;
        if (adminPort > 0)
        {
            admin.RequireHost($"*:{adminPort}");
        }
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }
}
