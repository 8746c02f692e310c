using HardPair.Hosting.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace HardPair.Hosting;

/// <summary>What both services set up the same way: validated options, metrics export, the bearer-token interceptor.</summary>
public static class ServiceDefaults
{
    /// <summary>The health service that only says the process answers (liveness and startup probes).</summary>
    public const string LivenessService = "liveness";

    /// <summary>The always-healthy check behind <see cref="LivenessService"/>.</summary>
    public const string ProcessCheck = "process";

    /// <summary>The Kestrel endpoint of <see cref="TlsOptions.HealthPort"/>.</summary>
    public const string HealthEndpoint = "Health";

    /// <summary>Binds <typeparamref name="T"/> to <paramref name="section"/> and validates it at start (a bad value stops the process, naming the key).</summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IHostApplicationBuilder builder, string section)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Services.AddOptions<T>()
            .Bind(builder.Configuration.GetSection(section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
    }

    /// <summary>The .NET runtime's built-in meter.</summary>
    public const string RuntimeMeterName = "System.Runtime";

    /// <summary>
    /// The meter's instruments and the runtime's (<see cref="RuntimeMeterName"/>: GC, JIT, thread
    /// pool, exceptions — observed at collection time, nothing on the request path) through
    /// OpenTelemetry: a Prometheus scrape endpoint on a server of its own (<see cref="MetricsServer"/>) when
    /// <c>Metrics:PrometheusPort</c> is set, OTLP export when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is.
    /// </summary>
    public static IHostApplicationBuilder AddMetricsExport(this IHostApplicationBuilder builder, string meterName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddValidatedOptions<MetricsOptions>(MetricsOptions.SectionName);
        var prometheus = builder.Configuration.GetSection(MetricsOptions.SectionName).Get<MetricsOptions>() ?? new MetricsOptions();
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(meterName, RuntimeMeterName);
            if (prometheus.PrometheusPort > 0)
            {
                metrics.AddPrometheusExporter();
            }

            if (otlp)
            {
                metrics.AddOtlpExporter();
            }
        });
        if (prometheus.PrometheusPort > 0)
        {
            builder.Services.AddHostedService<MetricsServer>();
        }

        return builder;
    }

    /// <summary>
    /// Traces over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set: the requests' server spans
    /// (ASP.NET Core's own activity source; a caller's <c>traceparent</c> is their parent), the calls
    /// this host makes (HttpClient's, which also carry the trace on to the peer), and the host's own
    /// spans from <paramref name="sourceName"/>. Unset: no listener, so no span is even created.
    /// </summary>
    public static IHostApplicationBuilder AddTracingExport(this IHostApplicationBuilder builder, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
                .AddSource(sourceName, AspNetCoreActivitySource, HttpClientActivitySource)
                .AddOtlpExporter());
        }

        return builder;
    }

    /// <summary>ASP.NET Core's activity source: one span per request.</summary>
    public const string AspNetCoreActivitySource = "Microsoft.AspNetCore";

    /// <summary>HttpClient's activity source: one span per outgoing call.</summary>
    public const string HttpClientActivitySource = "System.Net.Http";

    /// <summary>The interceptor for an authenticated API, its token read from the options bound to <paramref name="section"/>.</summary>
    public static IHostApplicationBuilder AddBearerTokenAuthentication(this IHostApplicationBuilder builder, string section)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddValidatedOptions<BearerTokenOptions>(section);
        builder.Services.AddSingleton(sp => new BearerTokenInterceptor(sp.GetRequiredService<IOptions<BearerTokenOptions>>().Value.ResolveToken()));
        return builder;
    }

    /// <summary>
    /// TLS from the <c>Tls</c> section (<see cref="TlsOptions"/>) on every <c>https://</c>
    /// endpoint, with mutual TLS when asked. With a certificate configured, a plaintext
    /// <c>http://</c> gRPC endpoint is a configuration error, not a silent downgrade — except the
    /// health port (<see cref="TlsOptions.HealthPort"/>), which answers health checks alone.
    /// </summary>
    public static IHostApplicationBuilder AddTransportSecurity(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddValidatedOptions<TlsOptions>(TlsOptions.SectionName);
        var configured = builder.Configuration.GetSection(TlsOptions.SectionName).Get<TlsOptions>() ?? new TlsOptions();
        if (configured.HealthPort is > 0 and <= 65535)
        {
            AddHealthPort(builder, configured.HealthPort);
        }

        if (configured.HasCertificate)
        {
            var urls = (builder.Configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)
                .Concat(builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Where(e => e.Key != HealthEndpoint).Select(e => e["Url"] ?? ""));
            var plaintext = urls.Where(u => u.Trim().StartsWith("http://", StringComparison.OrdinalIgnoreCase)).ToList();
            if (plaintext.Count > 0)
            {
                throw new OptionsValidationException(
                    TlsOptions.SectionName,
                    typeof(TlsOptions),
                    [$"Tls:CertificatePath is set but these endpoints are plaintext: {string.Join(", ", plaintext)}; use https:// URLs"]);
            }
        }

        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<TlsOptions>>((kestrel, options) =>
        {
            var tls = options.Value;
            if (!tls.HasCertificate)
            {
                return;
            }

            kestrel.ConfigureHttpsDefaults(https =>
            {
                https.ServerCertificate = tls.LoadCertificate();
                if (tls.RequireClientCertificate)
                {
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = (certificate, _, _) => tls.IsTrusted(certificate, KeyPurpose.ClientAuthentication);
                }
            });
        });
        return builder;
    }

    /// <summary>
    /// The health port as one more Kestrel endpoint, and a filter in front of everything that
    /// answers any call on it other than <c>grpc.health.v1.Health</c> with 404 (UNIMPLEMENTED to a
    /// gRPC client) — by the connection's local port, which a caller cannot forge (a host
    /// header can be). Kestrel ignores <c>urls</c> once endpoints are configured, so those become
    /// named endpoints too.
    /// </summary>
    private static void AddHealthPort(IHostApplicationBuilder builder, int port)
    {
        var endpoints = new Dictionary<string, string?>
        {
            [$"Kestrel:Endpoints:{HealthEndpoint}:Url"] = $"http://*:{port}",
            [$"Kestrel:Endpoints:{HealthEndpoint}:Protocols"] = "Http2",
        };
        var urls = (builder.Configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < urls.Length; i++)
        {
            endpoints[$"Kestrel:Endpoints:Url{i}:Url"] = urls[i];
        }

        builder.Configuration.AddInMemoryCollection(endpoints);
        builder.Services.AddTransient<IStartupFilter>(_ => new HealthPortFilter(port));
    }

    private sealed class HealthPortFilter(int port) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, following) =>
            {
                if (context.Connection.LocalPort == port && !context.Request.Path.StartsWithSegments("/grpc.health.v1.Health", StringComparison.Ordinal))
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }

                return following(context);
            });
            next(app);
        };
    }
}
