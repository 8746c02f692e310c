using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.InferenceService.Batching;

/// <summary>One image's answer: calibrated probabilities and the model that produced them.</summary>
public sealed record InferenceResult(float[] Probabilities, ModelDescription Model);

/// <summary>An image handed to the batcher, already validated against <see cref="Model"/>'s input shape; <see cref="Trace"/> is the request's span (for the batch's link).</summary>
internal sealed record PendingInference(float[] Pixels, ModelDescription Model, TaskCompletionSource<InferenceResult> Completion, CancellationToken Cancellation, CancellationTokenRegistration OnCancel, long EnqueuedAt, ActivityContext Trace)
{
    public void Answer(InferenceResult result)
    {
        Completion.TrySetResult(result);
        OnCancel.Unregister();
    }

    public void Fail(Exception error)
    {
        Completion.TrySetException(error);
        OnCancel.Unregister();
    }
}

/// <summary>Thrown when the queue is full: the caller gets RESOURCE_EXHAUSTED.</summary>
public sealed class QueueFullException() : Exception("the inference queue is full");

/// <summary>Thrown when no model is loaded: the caller gets UNAVAILABLE.</summary>
public sealed class NoModelException() : Exception("no model is loaded yet");

/// <summary>Thrown when the model changed shape between validation and the batch: the caller may retry.</summary>
public sealed class ModelChangedException(string message) : Exception(message);

/// <summary>
/// Dynamic batching: a bounded queue; the first waiting image opens a batch that closes when it
/// is full or after the queue delay; one lease and one forward pass per batch (so a batch never
/// mixes versions); cancelled or expired requests are dropped before the forward. Closed batches
/// go to <see cref="InferenceOptions.Executors"/> executor threads, each with its share of the
/// Torch threads; while they compute, the next batch gathers, and it is handed over when an
/// executor is idle, with whatever queued meanwhile added.
/// </summary>
public sealed partial class InferenceBatcher : BackgroundService
{
    private readonly Channel<PendingInference> queue;
    private readonly Channel<List<PendingInference>> ready = Channel.CreateUnbounded<List<PendingInference>>(
        new UnboundedChannelOptions { SingleWriter = true });
    private readonly SemaphoreSlim idleExecutors;
    private readonly ModelHost host;
    private readonly InferenceOptions options;
    private readonly InferenceMetrics metrics;
    private readonly ILogger<InferenceBatcher> logger;

    public InferenceBatcher(ModelHost host, IOptions<InferenceOptions> options, InferenceMetrics metrics, ILogger<InferenceBatcher> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.host = host;
        this.options = options.Value;
        this.metrics = metrics;
        this.logger = logger;
        queue = Channel.CreateBounded<PendingInference>(new BoundedChannelOptions(this.options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        idleExecutors = new SemaphoreSlim(this.options.Executors);
    }

    /// <summary>Queues one image (already validated against <paramref name="model"/>) and waits for its answer.</summary>
    public Task<InferenceResult> InferAsync(float[] pixels, ModelDescription model, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var completion = new TaskCompletionSource<InferenceResult>(TaskCreationOptions.RunContinuationsAsynchronously);

        // A caller that gives up is answered at once; the batcher skips its image. Whoever
        // answers it removes this registration.
        var onCancel = cancellationToken.Register(() => completion.TrySetCanceled(cancellationToken));
        if (!queue.Writer.TryWrite(new PendingInference(pixels, model, completion, cancellationToken, onCancel, Stopwatch.GetTimestamp(), Activity.Current?.Context ?? default)))
        {
            onCancel.Dispose();
            throw new QueueFullException();
        }

        return completion.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var threadsEach = Math.Max(1, (Shared.Torch.TorchRuntime.Current?.Threads ?? Environment.ProcessorCount) / options.Executors);
        var executors = Enumerable.Range(0, options.Executors).Select(i => StartExecutor(i, threadsEach)).ToArray();
        // Whatever the batch in hand holds when the host stops is answered below, not dropped.
        List<PendingInference>? batch = null;
        try
        {
            while (await queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch = new List<PendingInference>(options.MaxBatchSize);
                await GatherAsync(batch, stoppingToken);

                // A closed batch is handed over only to an idle executor; images that queued
                // while it waited join it (up to the batch size).
                await idleExecutors.WaitAsync(stoppingToken);
                TopUp(batch);
                ready.Writer.TryWrite(batch);
                batch = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: whoever still waits is told so.
        }

        ready.Writer.TryComplete();
        batch?.ForEach(p => p.Fail(new NoModelException()));
        while (queue.Reader.TryRead(out var left))
        {
            left.Fail(new NoModelException());
        }

        // Batches already handed over are computed and answered before the host stops.
        await Task.WhenAll(executors);
    }

    private async Task GatherAsync(List<PendingInference> batch, CancellationToken stoppingToken)
    {
        var closesAt = Stopwatch.GetTimestamp() + (long)(options.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        while (batch.Count < options.MaxBatchSize)
        {
            if (queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
                continue;
            }

            // The queue is empty: wait for the next image until the window ends or, sooner,
            // until arrivals have paused for the arrival gap.
            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), closesAt);
            var gap = options.MaxArrivalGap;
            var wait = gap > TimeSpan.Zero && gap < remaining ? gap : remaining;
            if (remaining <= TimeSpan.Zero || !await WaitAsync(wait, stoppingToken))
            {
                break;
            }
        }
    }

    private void TopUp(List<PendingInference> batch)
    {
        while (batch.Count < options.MaxBatchSize && queue.Reader.TryRead(out var item))
        {
            batch.Add(item);
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

    private async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken stoppingToken)
    {
        using var delay = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        delay.CancelAfter(timeout);
        try
        {
            return await queue.Reader.WaitToReadAsync(delay.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>An executor never dies of a batch: whatever escapes <see cref="Run"/> fails that batch alone.</summary>
    private void RunGuarded(List<PendingInference> batch)
    {
        try
        {
            Run(batch);
        }
        catch (Exception ex)
        {
            LogBatchFailed(logger, ex, "(unknown)", batch.Count);
            batch.ForEach(p => p.Fail(ex));
        }
    }

    private void Run(List<PendingInference> batch)
    {
        var live = new List<PendingInference>(batch.Count);
        foreach (var pending in batch)
        {
            if (pending.Cancellation.IsCancellationRequested || pending.Completion.Task.IsCompleted)
            {
                // Answered here: a token can read cancelled before its callbacks have run, and
                // unregistering then would leave the caller waiting for ever.
                pending.Completion.TrySetCanceled(pending.Cancellation);
                pending.OnCancel.Unregister();
            }
            else
            {
                live.Add(pending);
            }
        }

        if (live.Count == 0)
        {
            return;
        }

        using var lease = host.TryAcquire();
        if (lease is null)
        {
            live.ForEach(p => p.Fail(new NoModelException()));
            return;
        }

        var model = lease.Model.Description;
        var fits = new List<PendingInference>(live.Count);
        foreach (var pending in live)
        {
            if (pending.Model.InputShape == model.InputShape && pending.Model.ClassNames.Count == model.ClassNames.Count)
            {
                fits.Add(pending);
            }
            else
            {
                pending.Fail(new ModelChangedException($"the model changed to {model.Version} (input {model.InputShape}) while the request waited; retry"));
            }
        }

        if (fits.Count == 0)
        {
            return;
        }

        using var span = InferenceTracing.StartBatch(fits, model.Version);
        try
        {
            var probabilities = Forward(lease.Model, fits);
            var now = Stopwatch.GetTimestamp();
            metrics.Batch(fits.Count, fits.Select(p => Stopwatch.GetElapsedTime(p.EnqueuedAt, now)));
            for (var i = 0; i < fits.Count; i++)
            {
                fits[i].Answer(new InferenceResult(probabilities[i], model));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogBatchFailed(logger, ex, model.Version, fits.Count);
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            fits.ForEach(p => p.Fail(ex));
        }
    }

    /// <summary>
    /// softmax(z / T) for the batch, one forward pass, no autograd. The images are copied straight
    /// into the input tensor's memory and the answers straight out of the output's: a batch of 64
    /// Fashion-MNIST images is 200 KB, and a managed array that size per batch lands on the large
    /// object heap, whose collections (gen 2, in the background) cost ~2% of the service's CPU.
    /// </summary>
    private static float[][] Forward(ServingModel model, List<PendingInference> batch)
    {
        var shape = model.Description.InputShape;
        using var scope = torch.NewDisposeScope();
        using var inference = torch.inference_mode();
        var images = torch.empty([batch.Count, shape.Channels, shape.Height, shape.Width], ScalarType.Float32);
        var input = MemoryMarshal.Cast<byte, float>(images.bytes);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Pixels.CopyTo(input.Slice(i * shape.Elements, shape.Elements));
        }

        var probabilities = model.Network.forward(images.to(Shared.Torch.TorchRuntime.Device)).div(model.Description.Temperature).softmax(1).cpu().contiguous();
        var classes = (int)probabilities.shape[1];
        ReadOnlySpan<float> flat = MemoryMarshal.Cast<byte, float>(probabilities.bytes);
        var answers = new float[batch.Count][];
        for (var i = 0; i < batch.Count; i++)
        {
            answers[i] = flat.Slice(i * classes, classes).ToArray();
        }

        return answers;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {Count} on {Version} failed")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, string version, int count);
}
