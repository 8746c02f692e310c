using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Health;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Services;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Hosting;
using HardPair.Shared.Rpc;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
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
        AddValidatedOptions<CheckpointStoreOptions>(builder, CheckpointStoreOptions.SectionName);
        AddValidatedOptions<InferenceOptions>(builder, InferenceOptions.SectionName);
        AddValidatedOptions<SidecarOptions>(builder, SidecarOptions.SectionName);
        AddValidatedOptions<BearerTokenOptions>(builder, AdminSection);

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new CheckpointStore(sp.GetRequiredService<IOptions<CheckpointStoreOptions>>().Value.Path, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ModelHost>();
        services.AddSingleton<CandidateVerifier>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<InferenceMetrics>();
        services.AddSingleton<RobustnessProber>();
        services.AddSingleton<SidecarForwarder>();
        services.AddResiliencePipeline(SidecarForwarder.PipelineName, (pipeline, context) =>
            SidecarForwarder.ConfigurePipeline(pipeline, context.ServiceProvider.GetRequiredService<IOptions<SidecarOptions>>().Value));
        services.AddSingleton<CheckpointWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<CheckpointWatcher>());
        services.AddSingleton<InferenceBatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<InferenceBatcher>());

        // Metrics: a Prometheus scrape endpoint on its own listener when Metrics:PrometheusPort is
        // set, and OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is.
        AddValidatedOptions<MetricsOptions>(builder, MetricsOptions.SectionName);
        var prometheus = builder.Configuration.GetSection(MetricsOptions.SectionName).Get<MetricsOptions>() ?? new MetricsOptions();
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(InferenceMetrics.MeterName);
            if (prometheus.PrometheusPort > 0)
            {
                metrics.AddPrometheusHttpListener(listener =>
                {
                    listener.Host = prometheus.PrometheusHost;
                    listener.Port = prometheus.PrometheusPort;
                });
            }

            if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            {
                metrics.AddOtlpExporter();
            }
        });

        // A generous transport cap: anything below it that is still too big for the model is an
        // INVALID_ARGUMENT naming the field; only beyond it does gRPC itself say RESOURCE_EXHAUSTED.
        services.AddGrpc(options => options.MaxReceiveMessageSize = 64 * 1024 * 1024)
            .AddServiceOptions<AdminService>(options => options.Interceptors.Add<BearerTokenInterceptor>());
        services.AddSingleton(sp => new BearerTokenInterceptor(sp.GetRequiredService<IOptions<BearerTokenOptions>>().Value.ResolveToken()));
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(options => options.Services.Map("hardpair.v1.Classifier", result => result.Name == ModelReadinessCheck.Name))
            .AddCheck<ModelReadinessCheck>(ModelReadinessCheck.Name);
        return builder;
    }

    public static WebApplication MapInferenceEndpoints(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGrpcService<ClassifierService>();
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

    private static void AddValidatedOptions<T>(IHostApplicationBuilder builder, string section)
        where T : class =>
        builder.Services.AddOptions<T>()
            .Bind(builder.Configuration.GetSection(section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
}
