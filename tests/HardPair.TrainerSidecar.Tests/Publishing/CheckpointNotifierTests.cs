using System.Diagnostics;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Testing;
using HardPair.TrainerSidecar.Publishing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Registry;

namespace HardPair.TrainerSidecar.Tests.Publishing;

/// <summary>The notify pipeline against a real gRPC server that fails at first, and one that never answers.</summary>
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class CheckpointNotifierTests
{
    [Fact]
    public async Task Notify_ServerFailsTwiceThenAnswers_RetriesAndSucceeds()
    {
        var admin = new ScriptedAdmin(failures: 2);
        await using var host = await StartAdminAsync(admin);
        // Room for a cold first attempt that times out before the server sees it (a loaded CI machine).
        using var notifier = Create(host.Address, retries: 5);

        var delivered = await Task.Run(() => notifier.Notify("v7", TestContext.Current));

        Assert.True(delivered);
        Assert.Equal(3, admin.Calls);
        Assert.Equal("v7", admin.LastVersion);
        Assert.Equal("Bearer admin-token", admin.LastAuthorization);
    }

    [Fact]
    public async Task Notify_ServerNeverAnswers_GivesUpWithinTheBudgetAndReportsFalse()
    {
        var admin = new ScriptedAdmin(failures: 0, hang: true);
        await using var host = await StartAdminAsync(admin);
        using var notifier = Create(host.Address);
        var clock = Stopwatch.StartNew();

        var delivered = await Task.Run(() => notifier.Notify("v8", TestContext.Current));

        Assert.False(delivered);
        // 1 + 2 retries of a 1 s timeout, plus jittered delays of ~50-200 ms.
        Assert.Equal(3, admin.Calls);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Notify_NonTransientRefusal_IsNotRetried()
    {
        var admin = new ScriptedAdmin(failures: 100, code: StatusCode.Unimplemented);
        await using var host = await StartAdminAsync(admin);
        using var notifier = Create(host.Address);

        Assert.False(await Task.Run(() => notifier.Notify("v9", TestContext.Current)));
        Assert.Equal(1, admin.Calls);
    }

    private static readonly RecordingLogger Log = new();

    private static CheckpointNotifier Create(Uri address, int retries = 2)
    {
        var options = new NotifyOptions
        {
            InferenceAddress = address.ToString(),
            Token = "admin-token",
            AttemptTimeout = TimeSpan.FromSeconds(1),
            Retries = retries,
            RetryDelay = TimeSpan.FromMilliseconds(50),
        };
        var registry = new ResiliencePipelineRegistry<string>();
        registry.TryAddBuilder(CheckpointNotifier.PipelineName, (builder, _) => CheckpointNotifier.ConfigurePipeline(builder, options));
        return new CheckpointNotifier(Microsoft.Extensions.Options.Options.Create(options), Microsoft.Extensions.Options.Options.Create(new HardPair.Hosting.TlsOptions()), registry, Log);
    }

    private static Task<LoopbackHost> StartAdminAsync(ScriptedAdmin admin) => LoopbackHost.StartAsync(
        b =>
        {
            b.Services.AddGrpc();
            b.Services.AddSingleton(admin);
        },
        app => app.MapGrpcService<ScriptedAdmin>(),
        new Dictionary<string, string?>());

    private sealed class RecordingLogger : Microsoft.Extensions.Logging.ILogger<CheckpointNotifier>
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Console.WriteLine($"notifier: {formatter(state, exception)}");
    }

    /// <summary>An inference admin endpoint that fails its first calls, or never answers.</summary>
    public sealed class ScriptedAdmin(int failures, bool hang = false, StatusCode code = StatusCode.Unavailable) : Admin.AdminBase
    {
        private int calls;

        public int Calls => Volatile.Read(ref calls);

        public string? LastVersion { get; private set; }

        public string? LastAuthorization { get; private set; }

        public override async Task<NotifyCheckpointResponse> NotifyCheckpoint(NotifyCheckpointRequest request, ServerCallContext context)
        {
            var call = Interlocked.Increment(ref calls);
            LastVersion = request.Version;
            LastAuthorization = context.RequestHeaders.GetValue("authorization");
            if (hang)
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }

            if (call <= failures)
            {
                throw new RpcException(new Status(code, "not yet"));
            }

            return new NotifyCheckpointResponse { ServingVersion = request.Version };
        }
    }
}
