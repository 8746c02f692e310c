using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace HardPair.Hosting;

/// <summary>
/// The Prometheus scrape endpoint: a Kestrel server of its own (plaintext HTTP/1.1 on
/// <see cref="MetricsOptions.PrometheusPort"/>, as Prometheus scrapes) that serves <c>/metrics</c>
/// from the host's meter provider and answers anything else with 404. Apart from the host's own
/// server, so that it neither changes which endpoints that one binds (<c>urls</c>, configured or
/// code-given endpoints) nor shares the gRPC ports' protocols or TLS.
/// </summary>
internal sealed partial class MetricsServer(MeterProvider meterProvider, IOptions<MetricsOptions> options, ILogger<MetricsServer> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        // No configuration sources: the host's Kestrel settings (endpoints, defaults) are not this server's.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => ListenHost.Listen(kestrel, settings.PrometheusHost, settings.PrometheusPort, HttpProtocols.Http1));
        server = builder.Build();
        server.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider, context => context.Request.Path == "/metrics", path: null, configureBranchedPipeline: null, optionsName: null);
        server.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        await server.StartAsync(cancellationToken);
        LogListening(logger, settings.PrometheusHost, settings.PrometheusPort);
    }

    public Task StopAsync(CancellationToken cancellationToken) => server?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => server?.DisposeAsync() ?? ValueTask.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Prometheus metrics on http://{Host}:{Port}/metrics")]
    private static partial void LogListening(ILogger logger, string host, int port);
}
