using System.Text.Json;
using Grpc.Core;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Services;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.OpenInference;

/// <summary>
/// The Open Inference Protocol's REST twin: a Kestrel server of its own (plaintext HTTP/1.1 on
/// <see cref="OpenInferenceOptions.RestPort"/>, like the metrics server, so it neither changes the
/// gRPC ports' endpoints nor their protocols or TLS) over the same <see cref="OpenInferenceModel"/>
/// as the gRPC service. Errors are the specification's <c>{"error": "..."}</c> with the HTTP twin
/// of the gRPC status (400 for a bad request or body, 404 for an unknown model or version).
/// </summary>
public sealed partial class RestServer(OpenInferenceModel model, InferenceCalls calls, IOptions<OpenInferenceOptions> options, ILogger<RestServer> logger) : IHostedService, IAsyncDisposable
{
    public const string Method = "RestModelInfer";

    private WebApplication? server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.RestPort == 0)
        {
            return;
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = calls.Settings.MaxMessageBytes;
            Hosting.ListenHost.Listen(kestrel, settings.RestHost, settings.RestPort, HttpProtocols.Http1);
        });
        builder.Services.AddRoutingCore();
        server = builder.Build();
        Map(server);
        server.MapFallback(context => Error(context, StatusCodes.Status404NotFound, $"no route {context.Request.Method} {context.Request.Path}"));
        await server.StartAsync(cancellationToken);
        LogListening(logger, settings.RestHost, settings.RestPort);
    }

    public Task StopAsync(CancellationToken cancellationToken) => server?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public ValueTask DisposeAsync() => server?.DisposeAsync() ?? ValueTask.CompletedTask;

    private void Map(WebApplication app)
    {
        app.MapGet("/v2/health/live", context => Health(context, "live", true));
        app.MapGet("/v2/health/ready", context => Health(context, "ready", model.ServerReady));
        app.MapGet("/v2", context => Answer(context, () => RestJson.ServerMetadata(OpenInferenceModel.ServerMetadata())));
        foreach (var prefix in new[] { "/v2/models/{name}", "/v2/models/{name}/versions/{version}" })
        {
            app.MapGet(prefix, context => Answer(context, () => RestJson.ModelMetadata(model.ModelMetadata(Name(context), Version(context)))));
            app.MapGet(prefix + "/ready", context => Answer(context, () =>
            {
                var ready = model.ModelReady(Name(context), Version(context));
                context.Response.StatusCode = ready ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest;
                return new Dictionary<string, object> { ["name"] = Name(context), ["ready"] = ready };
            }));
            app.MapPost(prefix + "/infer", Infer);
        }
    }

    private async Task Infer(HttpContext context)
    {
        await Answer(context, async () =>
        {
            Protos.Inference.ModelInferRequest request;
            try
            {
                using var body = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
                request = RestJson.InferRequest(body.RootElement);
            }
            catch (JsonException ex)
            {
                throw new RestJson.BadBodyException($"the body is not valid JSON: {ex.Message}");
            }

            request.ModelName = Name(context);
            request.ModelVersion = Version(context);
            var response = await calls.Measured(Method, DateTime.MaxValue, context.RequestAborted, () => model.InferAsync(request, context, context.RequestAborted));
            return RestJson.InferResponse(response);
        });
    }

    private static string Name(HttpContext context) => (string)context.GetRouteValue("name")!;

    private static string Version(HttpContext context) => context.GetRouteValue("version") as string ?? "";

    private static Task Health(HttpContext context, string field, bool value)
    {
        context.Response.StatusCode = value ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest;
        return context.Response.WriteAsJsonAsync(new Dictionary<string, bool> { [field] = value });
    }

    private static Task Answer(HttpContext context, Func<object> answer) => Answer(context, () => Task.FromResult(answer()));

    /// <summary>Writes the answer as JSON, or the error with the HTTP twin of its gRPC status.</summary>
    private static async Task Answer(HttpContext context, Func<Task<object>> answer)
    {
        object body;
        try
        {
            body = await answer();
        }
        catch (RestJson.BadBodyException ex)
        {
            await Error(context, StatusCodes.Status400BadRequest, ex.Message);
            return;
        }
        catch (RpcException ex)
        {
            // The rate limit's pushback, as HTTP says it: whole seconds, rounded up.
            if (ex.Trailers.GetValue(Admission.ClientRateLimiter.RetryPushbackTrailer) is { } ms && int.TryParse(ms, out var wait))
            {
                context.Response.Headers.RetryAfter = ((wait + 999) / 1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            await Error(context, HttpStatus(ex.StatusCode), ex.Status.Detail);
            return;
        }

        await context.Response.WriteAsJsonAsync(body, context.RequestAborted);
    }

    private static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = message });
    }

    /// <summary>The HTTP status a gRPC status maps to (as grpc-gateway maps them).</summary>
    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.Aborted or StatusCode.AlreadyExists => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Cancelled => 499,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        _ => StatusCodes.Status500InternalServerError,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Open Inference Protocol REST on http://{Host}:{Port}/v2")]
    private static partial void LogListening(ILogger logger, string host, int port);
}
