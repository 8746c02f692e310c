using System.Diagnostics;
using Google.Protobuf;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>The admin API's retries towards the sidecar, through a link that delivers the sidecar's answers too late.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class IdempotencyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task ForwardedCallsRetriedAfterATimeout_QueueOneRun_AndStoreTheExamplesOnce()
    {
        var ct = TestContext.Current;
        await using var stack = Stack.Create();
        await stack.StartSidecarAsync(ct);
        await using var link = new PausingProxy(stack.SidecarAddress.Port);
        await stack.StartInferenceAsync(ct, new Dictionary<string, string>
        {
            ["Sidecar:Address"] = link.Address.ToString(),
            ["Sidecar:Timeout"] = Timeout.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
            ["Sidecar:Retries"] = "3",
        });
        var admin = stack.Admin();
        // Calls that succeed, so that the two timeouts below stay under the circuit breaker's
        // failure ratio (half of at least four calls in 30 s) and are retried rather than cut off.
        for (var i = 0; i < 4; i++)
        {
            await admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct);
        }

        // The sidecar queues the run at once, but its answer is held past the forwarder's
        // timeout: the first attempt times out and is retried, with the same request id.
        link.HoldAnswersFor(Timeout * 1.5);
        var clock = Stopwatch.StartNew();
        var run = await admin.TriggerRetrainingAsync(new StartRunRequest { Method = "standard", Reason = "retried through a slow link", Data = new DataSelection { TrainSubset = 200 } }, cancellationToken: ct);
        var took = clock.Elapsed;
        await stack.TrainerControl().CancelRunAsync(new CancelRunRequest { RunId = run.RunId }, cancellationToken: ct);
        var runs = (await stack.TrainerControl().ListRunsAsync(new ListRunsRequest(), cancellationToken: ct)).Runs;

        link.HoldAnswersFor(Timeout * 1.5);
        clock.Restart();
        var examples = new SubmitExamplesRequest { Source = "retried through a slow link" };
        examples.Examples.AddRange(Enumerable.Range(0, 5).Select(i => new LabelledExample { Pixels = ByteString.CopyFrom(new byte[28 * 28]), Label = i }));
        var stored = await admin.SubmitLabeledExamplesAsync(examples, cancellationToken: ct);
        var storeTook = clock.Elapsed;
        var status = await admin.GetTrainingStatusAsync(new GetStatusRequest(), cancellationToken: ct);

        // Both calls outlived one attempt's timeout, so each was answered by a retry.
        Assert.True(took > Timeout, $"StartRun took {took.TotalMilliseconds:0} ms: the first attempt did not time out");
        Assert.True(storeTook > Timeout, $"SubmitExamples took {storeTook.TotalMilliseconds:0} ms: the first attempt did not time out");
        var queued = Assert.Single(runs, r => r.Reason == "retried through a slow link");
        Assert.Equal(run.RunId, queued.RunId);
        Assert.StartsWith("admin-", queued.RequestId, StringComparison.Ordinal);
        Assert.Equal(5, stored.Accepted);
        Assert.True(stored.Duplicate, "the answer came from the retry, which found the first attempt's examples");
        Assert.Equal(5, status.FeedbackExamples);

        // The retries are in the log at warning, and no response body is.
        var log = stack.Inference!.Output;
        Assert.Contains("OnRetry", log, StringComparison.Ordinal);
        Assert.DoesNotContain(run.RunId, log, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"info: Polly", log);
    }
}
