using System.Diagnostics;
using HardPair.InferenceService.Models;

namespace HardPair.InferenceService.Batching;

/// <summary>One image's answer: calibrated probabilities and the model that produced them.</summary>
public sealed record InferenceResult(float[] Probabilities, ModelDescription Model);

/// <summary>
/// One call's images, queued together and answered together. The call is pinned to a model the
/// first time some of its images are taken into a forward batch and holds that lease until its
/// last image is answered, so every image of a call is answered by one version, however many
/// forward passes it takes. <see cref="Taken"/> and the pin belong to the <see cref="CallQueue"/>
/// (changed under its lock); the answers arrive from the executors.
/// </summary>
internal sealed class PendingCall
{
    private readonly TaskCompletionSource<IReadOnlyList<InferenceResult>> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly float[][] answers;
    private int unanswered;
    private ModelLease? lease;

    public PendingCall(IReadOnlyList<float[]> images, ModelDescription validatedAgainst, long enqueuedAt, ActivityContext trace, CancellationToken cancellation)
    {
        Images = images;
        ValidatedAgainst = validatedAgainst;
        EnqueuedAt = enqueuedAt;
        Trace = trace;
        Cancellation = cancellation;
        answers = new float[images.Count][];
        unanswered = images.Count;
    }

    public IReadOnlyList<float[]> Images { get; }

    /// <summary>The model whose input shape the images were checked against when the call arrived.</summary>
    public ModelDescription ValidatedAgainst { get; }

    public long EnqueuedAt { get; }

    /// <summary>The request's span (for the batch span's link).</summary>
    public ActivityContext Trace { get; }

    public CancellationToken Cancellation { get; }

    public CancellationTokenRegistration OnCancel { get; set; }

    public Task<IReadOnlyList<InferenceResult>> Completion => completion.Task;

    /// <summary>Answered, failed or cancelled: nothing more of it is computed.</summary>
    public bool IsFinished => completion.Task.IsCompleted || Cancellation.IsCancellationRequested;

    /// <summary>Images already handed to forward batches.</summary>
    public int Taken { get; set; }

    public int Untaken => Images.Count - Taken;

    /// <summary>The model the call is pinned to, or null before its first images are taken.</summary>
    public ServingModel? PinnedTo => Volatile.Read(ref lease)?.Model;

    /// <summary>Pins the call to <paramref name="pin"/>; false (and the lease returned) when the call finished meanwhile.</summary>
    public bool Pin(ModelLease pin)
    {
        Volatile.Write(ref lease, pin);
        // Finish returns the lease after completing the call; checking here after taking it means
        // that one of the two always sees the other, and the lease is never left behind.
        if (IsFinished)
        {
            Release();
            return false;
        }

        return true;
    }

    /// <summary>Records the answers to images [start, start + probabilities.Count); the last one completes the call.</summary>
    public void Answer(int start, ReadOnlySpan<float[]> probabilities, ModelDescription model)
    {
        probabilities.CopyTo(answers.AsSpan(start));
        if (Interlocked.Add(ref unanswered, -probabilities.Length) == 0)
        {
            completion.TrySetResult(Array.ConvertAll(answers, p => new InferenceResult(p, model)));
            Finish();
        }
    }

    public void Fail(Exception error)
    {
        completion.TrySetException(error);
        Finish();
    }

    public void Cancel()
    {
        completion.TrySetCanceled(Cancellation);
        Finish();
    }

    private void Finish()
    {
        OnCancel.Unregister();
        Release();
    }

    private void Release() => Interlocked.Exchange(ref lease, null)?.Dispose();
}
