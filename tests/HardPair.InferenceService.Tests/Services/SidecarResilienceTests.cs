using Grpc.Core;
using Grpc.Core.Interceptors;
using HardPair.Protos.V1;
using HardPair.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace HardPair.InferenceService.Tests.Services;

/// <summary>
/// The admin API's calls to a sidecar that is down, slow or flapping (a scripted sidecar on its
/// own loopback port): the circuit breaker opens, refuses at once while open, and closes again
/// once the sidecar answers; classification is never touched.
/// </summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class SidecarResilienceTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task FlappingSidecar_OpensTheBreaker_RefusesFastWhileOpen_AndClosesWhenItAnswersAgain()
    {
        checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var sidecar = new ScriptedTrainer();
        await using var sidecarHost = await LoopbackHost.StartAsync(
            b =>
            {
                b.Services.AddGrpc();
                b.Services.AddSingleton(sidecar);
            },
            app => app.MapGrpcService<ScriptedTrainer>(),
            new Dictionary<string, string?>());
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?>
        {
            ["Sidecar:Address"] = sidecarHost.Address.ToString(),
            ["Sidecar:Timeout"] = "00:00:00.600",
            ["Sidecar:Retries"] = "1",
            ["Sidecar:BreakDuration"] = "00:00:01.500",
        });
        var admin = new Admin.AdminClient(host.Channel.Intercept(headers =>
        {
            headers.Add("authorization", $"Bearer {InferenceSettings.AdminToken}");
            return headers;
        }));
        var classifier = new Classifier.ClassifierClient(host.Channel);
        var image = TestImages.Uint8(checkpoint.Test, 0);
        var ct = TestContext.Current;

        for (var flap = 0; flap < 2; flap++)
        {
            sidecar.Mode = ScriptedTrainer.Behaviour.Answer;
            Assert.True((await admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct)).Leader);

            // Down (UNAVAILABLE), then slow (beyond the per-attempt timeout): two calls of two
            // attempts each are four transient failures against one success, and the breaker opens.
            sidecar.Mode = flap == 0 ? ScriptedTrainer.Behaviour.Unavailable : ScriptedTrainer.Behaviour.Hang;
            for (var i = 0; i < 2; i++)
            {
                var failed = await Assert.ThrowsAsync<RpcException>(() => admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct).ResponseAsync);
                Assert.Equal(StatusCode.Unavailable, failed.StatusCode);
            }

            // Open: refused at once, without reaching the sidecar, even though it answers again.
            sidecar.Mode = ScriptedTrainer.Behaviour.Answer;
            var reached = sidecar.Calls;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var refused = await Assert.ThrowsAsync<RpcException>(() => admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct).ResponseAsync);
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            Assert.Contains("circuit", refused.Status.Detail, StringComparison.OrdinalIgnoreCase);
            // Well under one attempt's timeout plus a retry; the unchanged call count below is the proof.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"an open breaker took {clock.Elapsed.TotalMilliseconds:0} ms to refuse");
            Assert.Equal(reached, sidecar.Calls);

            // Serving is not affected by any of it.
            Assert.NotEmpty((await classifier.ClassifyAsync(new ClassifyRequest { Image = image }, cancellationToken: ct)).ClassName);

            // After the break, a trial call goes through and closes the breaker.
            await Task.Delay(TimeSpan.FromMilliseconds(1700), ct);
            Assert.True((await admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct)).Leader);
            Assert.True((await admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct)).Leader);
            Assert.Equal(reached + 2, sidecar.Calls);
        }
    }

    /// <summary>A sidecar that answers, refuses (UNAVAILABLE) or hangs, as the test says.</summary>
    public sealed class ScriptedTrainer : Trainer.TrainerBase
    {
        private int calls;

        public enum Behaviour
        {
            Answer,
            Unavailable,
            Hang,
        }

        public Behaviour Mode { get; set; }

        public int Calls => Volatile.Read(ref calls);

        public override async Task<TrainerStatus> GetStatus(GetStatusRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref calls);
            switch (Mode)
            {
                case Behaviour.Unavailable:
                    throw new RpcException(new Status(StatusCode.Unavailable, "restarting"));
                case Behaviour.Hang:
                    await Task.Delay(Timeout.Infinite, context.CancellationToken);
                    break;
            }

            return new TrainerStatus { Leader = true };
        }
    }
}
