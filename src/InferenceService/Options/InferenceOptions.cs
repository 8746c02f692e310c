using System.ComponentModel.DataAnnotations;

namespace HardPair.InferenceService.Options;

/// <summary>Serving: the batcher, request limits, the store watch and the signals.</summary>
public sealed class InferenceOptions : IValidatableObject
{
    public const string SectionName = "Inference";

    /// <summary>
    /// Largest gRPC message accepted (bytes). Beyond it gRPC answers RESOURCE_EXHAUSTED before
    /// the message is parsed; below it an image too big for the model is INVALID_ARGUMENT.
    /// </summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Largest batch one forward pass takes.</summary>
    [Range(1, 4096)]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>
    /// Batches computed at once, each on a thread of its own with an equal share of the Torch
    /// threads (<c>Torch:Threads</c>, else one per CPU). While they compute, the next batch
    /// gathers. More than one paid off on an H200 (one small batch cannot keep it busy); on CPUs
    /// it was a win on one 8-core machine and a tie on another, and none on two cores: measure.
    /// </summary>
    [Range(1, 64)]
    public int Executors { get; set; } = 1;

    /// <summary>
    /// How long the first request of a batch may wait for company. Zero (the default): a batch
    /// is whatever waits when an executor is free, and images that arrive while the executors
    /// compute form the next one — under load batches grow by themselves, and a lone caller
    /// waits for nobody (the serving bench: p50 0.6 ms at one caller against 4.1 ms with a
    /// 2-ms window, whose timer fires late).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan MaxQueueDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// A batch that is not full closes as soon as no image has arrived for this long, before
    /// <see cref="MaxQueueDelay"/>: under load arrivals keep coming and batches fill; when they
    /// pause, nobody waits out the rest of the window. Zero: only the window closes a batch.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan MaxArrivalGap { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Images that may wait for a forward pass; a call whose images do not fit is refused with
    /// RESOURCE_EXHAUSTED. At least <see cref="MaxRequestsPerBatchCall"/>.
    /// </summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>
    /// How a forward batch is filled from the waiting calls. <c>RoundRobin</c> (the default): the
    /// batch's places are dealt one image at a time to the waiting calls, oldest first, so a
    /// one-image call waits for the forward pass in progress and at most one more however many
    /// large batch calls queued before it (while fewer calls than <see cref="MaxBatchSize"/>
    /// wait). <c>Fifo</c>: images in arrival order; a call waits behind every image queued before
    /// it (up to <see cref="QueueCapacity"/>), which maximises nothing but strict arrival order.
    /// </summary>
    public QueuePolicy QueuePolicy { get; set; } = QueuePolicy.RoundRobin;

    /// <summary>Most images in one ClassifyBatch call.</summary>
    [Range(1, 100_000)]
    public int MaxRequestsPerBatchCall { get; set; } = 256;

    /// <summary>top_k when a request leaves it 0.</summary>
    [Range(1, 1000)]
    public int DefaultTopK { get; set; } = 3;

    /// <summary>Polling period of the checkpoint store, the fallback to the file watch.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A call is ambiguous when its top-two margin is below this and the two classes are each other's hard partners.</summary>
    [Range(0.0, 1.0)]
    public double AmbiguityMargin { get; set; } = 0.3;

    /// <summary>PGD steps of the opt-in robustness probe (its cost cap).</summary>
    [Range(1, 100)]
    public int ProbeSteps { get; set; } = 10;

    /// <summary>
    /// Serve the Admin API only on this port (a Kestrel endpoint must listen there, e.g.
    /// <c>Kestrel:Endpoints:Admin:Url</c>); 0: on every endpoint, beside Classify.
    /// </summary>
    [Range(0, 65535)]
    public int AdminPort { get; set; }

    /// <summary>Probes running at once; more wait (within their deadline) so probes cannot starve plain calls.</summary>
    [Range(1, 64)]
    public int MaxConcurrentProbes { get; set; } = 1;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxRequestsPerBatchCall > QueueCapacity)
        {
            yield return new ValidationResult(
                $"MaxRequestsPerBatchCall ({MaxRequestsPerBatchCall}) must not exceed QueueCapacity ({QueueCapacity}): a call queues whole, and a larger one could never be admitted.",
                [nameof(MaxRequestsPerBatchCall), nameof(QueueCapacity)]);
        }

        if (!Enum.IsDefined(QueuePolicy))
        {
            yield return new ValidationResult($"QueuePolicy must be RoundRobin or Fifo, not {QueuePolicy}.", [nameof(QueuePolicy)]);
        }
    }
}

/// <summary>How the batcher fills a forward batch from the waiting calls (<see cref="InferenceOptions.QueuePolicy"/>).</summary>
public enum QueuePolicy
{
    /// <summary>Places dealt one image at a time to the waiting calls, oldest first.</summary>
    RoundRobin,

    /// <summary>Images in arrival order.</summary>
    Fifo,
}
