using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using HardPair.Hosting;
using HardPair.InferenceService.Batching;
using HardPair.Protos.V1;
using HardPair.Testing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests.Batching;

/// <summary>Distributed tracing on real Kestrel: a caller's trace continues in the service, and the batch that answered it links back.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class TracingTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task Classify_WithATraceparent_TheRequestSpanContinuesIt_AndTheBatchSpanLinksToIt()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is InferenceTracing.SourceName or ServiceDefaults.AspNetCoreActivitySource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        checkpoint.CopyInto(store.Path);
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();

        var reply = await new Classifier.ClassifierClient(host.Channel).ClassifyAsync(
            new ClassifyRequest { Image = Uint8(checkpoint.Test, 0) },
            new Metadata { { "traceparent", $"00-{traceId}-{callerSpan}-01" } },
            cancellationToken: TestContext.Current);

        // The server span ends once the response is written, a moment after the client has it.
        Activity? server = null;
        for (var i = 0; i < 100 && server is null; i++)
        {
            server = stopped.FirstOrDefault(a => a.Source.Name == ServiceDefaults.AspNetCoreActivitySource && a.TraceId == traceId);
            await Task.Delay(20, TestContext.Current);
        }

        Assert.NotNull(server);
        Assert.Equal(callerSpan, server.ParentSpanId);
        var batch = Assert.Single(stopped, a => a.OperationName == InferenceTracing.BatchSpan && a.Links.Any(l => l.Context.TraceId == traceId));
        Assert.Equal(1, batch.GetTagItem("hardpair.batch.size"));
        Assert.Equal(reply.ModelVersion, batch.GetTagItem("hardpair.model.version"));
        Assert.True(
            batch.StartTimeUtc >= server.StartTimeUtc && batch.StartTimeUtc + batch.Duration <= server.StartTimeUtc + server.Duration,
            $"the batch ran within the request: batch {batch.StartTimeUtc:O} + {batch.Duration.TotalMilliseconds} ms, request {server.StartTimeUtc:O} + {server.Duration.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Tracing_IsExportedOnlyWhereAnOtlpEndpointIsConfigured()
    {
        checkpoint.CopyInto(store.Path);
        await using (var plain = await InferenceSettings.StartAsync(store.Path))
        {
            Assert.Null(plain.App.Services.GetService<TracerProvider>());
        }

        await using var exporting = await InferenceSettings.StartAsync(store.Path, new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9" });
        Assert.NotNull(exporting.App.Services.GetService<TracerProvider>());
    }
}
