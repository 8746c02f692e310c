using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.InferenceService.Batching;

/// <summary>Thrown when the queue is full: the caller gets RESOURCE_EXHAUSTED.</summary>
public sealed class QueueFullException() : Exception("the inference queue is full");

/// <summary>Thrown when no model is loaded: the caller gets UNAVAILABLE.</summary>
public sealed class NoModelException() : Exception("no model is loaded yet");

/// <summary>Thrown when the model changed shape between validation and the batch: the caller may retry.</summary>
public sealed class ModelChangedException(string message) : Exception(message);

/// <summary>
/// Dynamic batching: calls queue whole (bounded in images, <see cref="InferenceOptions.QueueCapacity"/>);
/// a forward batch of up to <see cref="InferenceOptions.MaxBatchSize"/> images is filled from
/// them by the <see cref="InferenceOptions.QueuePolicy"/> when an executor is idle (after the
/// optional window), on one model: each call is pinned to one version from its first forward pass
/// to its last, so neither a batch nor a call mixes versions. Cancelled or expired calls are
/// dropped before the forward. Closed batches go to <see cref="InferenceOptions.Executors"/>
/// executor threads, each with its share of the Torch threads; while they compute, the next batch
/// gathers.
/// </summary>
public sealed partial class InferenceBatcher : BackgroundService
{
    private readonly CallQueue queue;
    private readonly Channel<ForwardBatch> ready = Channel.CreateUnbounded<ForwardBatch>(
        new UnboundedChannelOptions { SingleWriter = true });
    private readonly SemaphoreSlim idleExecutors;
    private readonly ModelHost host;
    private readonly InferenceOptions options;
    private readonly InferenceMetrics metrics;
    private readonly TimeProvider time;
    private readonly ILogger<InferenceBatcher> logger;

    public InferenceBatcher(ModelHost host, IOptions<InferenceOptions> options, InferenceMetrics metrics, TimeProvider time, ILogger<InferenceBatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.host = host;
        this.options = options.Value;
        this.metrics = metrics;
        this.time = time;
        this.logger = logger;
        queue = new CallQueue(this.options.QueueCapacity, this.options.QueuePolicy);
        idleExecutors = new SemaphoreSlim(this.options.Executors);
    }

    /// <summary>Queues one image (already validated against <paramref name="model"/>) and waits for its answer.</summary>
    public async Task<InferenceResult> InferAsync(float[] pixels, ModelDescription model, CancellationToken cancellationToken) =>
        (await InferAsync([pixels], model, cancellationToken))[0];

    /// <summary>
    /// Queues a call's images (already validated against <paramref name="model"/>) and waits for
    /// their answers, in order, all from one model version.
    /// </summary>
    public Task<IReadOnlyList<InferenceResult>> InferAsync(IReadOnlyList<float[]> images, ModelDescription model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfZero(images.Count);
        cancellationToken.ThrowIfCancellationRequested();
        var call = new PendingCall(images, model, Stopwatch.GetTimestamp(), Activity.Current?.Context ?? default, cancellationToken);

        // A caller that gives up is answered at once and its images leave the queue; whatever of
        // it is already in a forward pass is computed and dropped.
        call.OnCancel = cancellationToken.Register(() =>
        {
            queue.Withdraw(call);
            call.Cancel();
        });
        try
        {
            if (!queue.TryEnqueue(call))
            {
                throw new QueueFullException();
            }
        }
        catch
        {
            call.OnCancel.Dispose();
            throw;
        }

        return call.Completion;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var threadsEach = Math.Max(1, (ML.Torch.TorchRuntime.Current?.Threads ?? Environment.ProcessorCount) / options.Executors);
        var executors = Enumerable.Range(0, options.Executors).Select(i => StartExecutor(i, threadsEach)).ToArray();
        try
        {
            while (true)
            {
                await queue.ArrivalAsync(1).WaitAsync(stoppingToken);
                await GatherAsync(stoppingToken);

                // A batch is filled only when an executor is idle, with whatever waits by then
                // (up to the batch size).
                await idleExecutors.WaitAsync(stoppingToken);
                if (queue.Take(options.MaxBatchSize, host) is { } batch)
                {
                    ready.Writer.TryWrite(batch);
                }
                else
                {
                    idleExecutors.Release();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: whoever still waits is told so.
        }

        ready.Writer.TryComplete();
        foreach (var call in queue.Close())
        {
            call.Fail(new NoModelException());
        }

        // Batches already handed over are computed and answered before the host stops.
        await Task.WhenAll(executors);
    }

    /// <summary>
    /// Waits, within the window, until a full batch waits, or (sooner) until arrivals have paused
    /// for the arrival gap. Without a window it returns at once.
    /// </summary>
    private async Task GatherAsync(CancellationToken stoppingToken)
    {
        var closesAt = time.GetTimestamp() + (long)(options.MaxQueueDelay.TotalSeconds * time.TimestampFrequency);
        while (true)
        {
            var remaining = time.GetElapsedTime(time.GetTimestamp(), closesAt);
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            var arrival = queue.ArrivalAsync(options.MaxBatchSize);
            if (arrival.IsCompleted)
            {
                return;
            }

            var gap = options.MaxArrivalGap;
            try
            {
                await arrival.WaitAsync(gap > TimeSpan.Zero && gap < remaining ? gap : remaining, time, stoppingToken);
            }
            catch (TimeoutException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// One executor: a dedicated thread that takes closed batches until the batcher stops. Torch's
    /// thread count is set on it once; with the OpenMP backend that holds for this thread's
    /// parallel regions, and it also becomes the process default for threads that run their first
    /// Torch operation later (robustness probes, verification).
    /// </summary>
    private Task StartExecutor(int index, int threads)
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                torch.set_num_threads(threads);
                while (ready.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                {
                    while (ready.Reader.TryRead(out var batch))
                    {
                        RunGuarded(batch);
                        idleExecutors.Release();
                    }
                }
            }
            finally
            {
                stopped.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = $"hardpair-executor-{index}",
        };
        thread.Start();
        return stopped.Task;
    }

    /// <summary>An executor never dies of a batch: whatever escapes <see cref="Run"/> fails that batch's calls alone.</summary>
    private void RunGuarded(ForwardBatch batch)
    {
        using var lease = batch.Lease;
        try
        {
            Run(batch);
        }
        catch (Exception ex)
        {
            LogBatchFailed(logger, ex, lease.Model.Version, batch.Images);
            foreach (var slice in batch.Slices)
            {
                slice.Call.Fail(ex);
            }
        }
    }

    private void Run(ForwardBatch batch)
    {
        // A call cancelled (or failed in another batch) since it was taken is not computed.
        var live = batch.Slices.Where(s => !s.Call.IsFinished).ToList();
        if (live.Count == 0)
        {
            return;
        }

        var model = batch.Lease.Model;
        var size = live.Sum(s => s.Count);
        using var span = InferenceTracing.StartBatch(live.Select(s => s.Call.Trace), size, model.Version);
        try
        {
            var probabilities = Forward(model, live, size);
            var now = Stopwatch.GetTimestamp();
            metrics.Batch(size, live.SelectMany(s => Enumerable.Repeat(Stopwatch.GetElapsedTime(s.Call.EnqueuedAt, now), s.Count)));
            // The batch span ends before any caller is answered: each request's span then ends
            // after the batch it waited for, as a trace should show it.
            span?.Stop();
            var offset = 0;
            foreach (var slice in live)
            {
                slice.Call.Answer(slice.Start, probabilities.AsSpan(offset, slice.Count), model.Description);
                offset += slice.Count;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogBatchFailed(logger, ex, model.Version, size);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            live.ForEach(s => s.Call.Fail(ex));
        }
    }

    /// <summary>
    /// softmax(z / T) for the batch, one forward pass, no autograd. The images are copied straight
    /// into the input tensor's memory and the answers straight out of the output's: a batch of 64
    /// Fashion-MNIST images is 200 KB, and a managed array that size per batch lands on the large
    /// object heap, whose collections (gen 2, in the background) cost ~2% of the service's CPU.
    /// </summary>
    private static float[][] Forward(ServingModel model, List<CallSlice> batch, int size)
    {
        var shape = model.Description.InputShape;
        using var scope = torch.NewDisposeScope();
        using var inference = torch.inference_mode();
        var images = torch.empty([size, shape.Channels, shape.Height, shape.Width], ScalarType.Float32);
        var input = MemoryMarshal.Cast<byte, float>(images.bytes);
        var row = 0;
        foreach (var slice in batch)
        {
            for (var i = 0; i < slice.Count; i++, row++)
            {
                slice.Call.Images[slice.Start + i].CopyTo(input.Slice(row * shape.Elements, shape.Elements));
            }
        }

        var probabilities = model.Network.forward(images.to(ML.Torch.TorchRuntime.Device)).div(model.Description.Temperature).softmax(1).cpu().contiguous();
        var classes = (int)probabilities.shape[1];
        ReadOnlySpan<float> flat = MemoryMarshal.Cast<byte, float>(probabilities.bytes);
        var answers = new float[size][];
        for (var i = 0; i < size; i++)
        {
            answers[i] = flat.Slice(i * classes, classes).ToArray();
        }

        return answers;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {Count} on {Version} failed")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, string version, int count);
}
