using System.ComponentModel.DataAnnotations;
using System.Globalization;
using HardPair.ML.Attacks;
using HardPair.ML.Objectives;
using HardPair.ML.Recipes;
using HardPair.ML.Training;

namespace HardPair.TrainerSidecar.Options;

/// <summary>The sidecar's training service: where its state lives, the continuous cycle and its budget.</summary>
public sealed class TrainerOptions : IValidatableObject
{
    public const string SectionName = "Trainer";

    /// <summary>Runs, snapshots and the feedback log live here.</summary>
    [Required]
    public string StatePath { get; set; } = "";

    /// <summary>Run cycles on a schedule (the service default); operator-triggered runs always work.</summary>
    public bool Continuous { get; set; } = true;

    /// <summary>Time from the end of one cycle to the start of the next.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan CycleInterval { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Delay before the first continuous cycle after start.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan FirstCycleDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Method value meaning "the serving checkpoint's own".</summary>
    public const string ServingMethod = "serving";

    /// <summary>
    /// A run's method when it names none: <c>serving</c> (the default) fine-tunes with the serving
    /// checkpoint's own method and its objective's hyper-parameters (scale, β, m, n, ε, …; PGD-AT
    /// on a linear head from scratch when nothing serves), so that a cycle continues the recipe the model was made
    /// with; or a method name, for every run.
    /// </summary>
    [Required]
    public string Method { get; set; } = ServingMethod;

    /// <summary>Epochs over the cycle's training subset.</summary>
    public double Epochs { get; set; } = 1;

    /// <summary>Base training images per cycle (seeded subset of the training part).</summary>
    [Range(1, 1_000_000)]
    public int TrainSubset { get; set; } = 12_000;

    /// <summary>Fine-tuning starts from trained weights: a smaller rate than from scratch.</summary>
    public double LearningRate { get; set; } = 0.01;

    /// <summary>Peak learning rate when there is no serving checkpoint to start from (the searched recipe's).</summary>
    public double ScratchLearningRate { get; set; } = HyperParameters.SearchedLearningRate;

    public int BatchSize { get; set; } = HyperParameters.DefaultBatchSize;

    /// <summary>The training attack's steps: the sidecar's budget, not inherited from the serving checkpoint.</summary>
    public int AttackSteps { get; set; } = HyperParameters.DefaultAttackSteps;

    public double Epsilon { get; set; } = HyperParameters.DefaultEpsilon;

    public int Seed { get; set; } = 1;

    /// <summary>A snapshot (weights + optimizer + step) every this many steps; a crash costs at most this many.</summary>
    [Range(1, 100_000)]
    public int SnapshotEvery { get; set; } = 25;

    /// <summary>
    /// Share of wall time spent training, in (0, 1]: 0.5 sleeps as long as each step took, so a
    /// sidecar sharing cores with the inference service leaves it room.
    /// </summary>
    [Range(0.01, 1.0)]
    public double DutyCycle { get; set; } = 1.0;

    /// <summary>Runs kept in the history (oldest finished ones are removed past this).</summary>
    [Range(1, 100_000)]
    public int RunHistory { get; set; } = 500;

    [Required]
    public GateOptions Gate { get; set; } = new();

    /// <summary>
    /// The training settings against the hyper-parameter catalog's ranges (the one place for
    /// them: a run's own values, <c>train</c>'s flags and these settings are held to the same),
    /// the method, and <see cref="Gate"/>, which data annotations do not descend into on their own.
    /// </summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(Gate, new ValidationContext(Gate), results, validateAllProperties: true);
        var errors = results.Select(r => new ValidationResult($"Trainer:Gate: {r.ErrorMessage}", [.. r.MemberNames.Select(m => $"{nameof(Gate)}.{m}")])).ToList();
        (string Setting, HyperParameter Parameter, double Value)[] settings =
        [
            (nameof(Epochs), HyperParameters.Epochs, Epochs),
            (nameof(LearningRate), HyperParameters.LearningRate, LearningRate),
            (nameof(ScratchLearningRate), HyperParameters.LearningRate, ScratchLearningRate),
            (nameof(BatchSize), HyperParameters.BatchSize, BatchSize),
            (nameof(AttackSteps), HyperParameters.AttackSteps, AttackSteps),
            (nameof(Epsilon), HyperParameters.Epsilon, Epsilon),
        ];
        errors.AddRange(settings
            .Where(s => !s.Parameter.Accepts(s.Value))
            .Select(s => new ValidationResult(string.Create(CultureInfo.InvariantCulture, $"Trainer:{s.Setting} must be {(s.Parameter.Integral ? "a whole number" : "a number")} from {s.Parameter.Min} to {s.Parameter.Max}, not {s.Value}."), [s.Setting])));
        if (Method != ServingMethod && !TrainingObjectives.Names.Contains(Method))
        {
            errors.Add(new ValidationResult($"Trainer:Method must be {ServingMethod} or one of {string.Join(", ", TrainingObjectives.Names)}, not '{Method}'.", [nameof(Method)]));
        }

        return errors;
    }
}

/// <summary>What a candidate must show before it is published.</summary>
public sealed class GateOptions : IValidatableObject
{
    /// <summary>δ: the most the candidate's robust accuracy may fall below the serving checkpoint's.</summary>
    [Range(0.0, 1.0)]
    public double MaxRobustDrop { get; set; } = 0.01;

    /// <summary>The lowest clean accuracy a candidate may have.</summary>
    [Range(0.0, 1.0)]
    public double MinCleanAccuracy { get; set; } = 0.5;

    /// <summary>
    /// The attack or suite the gate measures with (a name from <see cref="AttackCatalog"/>, at the
    /// serving manifest's ε): by default APGD-CE then APGD-T over the 3 most likely targets, the
    /// cheaper proxy for <c>autoattack</c> whose gap docs/TRAINER.md gives.
    /// </summary>
    [Required]
    public string Attack { get; set; } = AttackCatalog.GateSuite;

    /// <summary>Held-out images both candidate and serving model are measured on.</summary>
    [Range(10, 100_000)]
    public int Examples { get; set; } = 1000;

    /// <summary>Test images for the manifest's metrics.</summary>
    [Range(10, 100_000)]
    public int TestExamples { get; set; } = 1000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!AttackCatalog.IsKnown(Attack) || Attack == AttackCatalog.Clean)
        {
            yield return new ValidationResult($"Trainer:Gate:Attack '{Attack}' is not an attack (fgsm, pgdK, cw, apgd-ce, apgd-t[N], square[Q], autoattack, or names joined by +)", [nameof(Attack)]);
        }
    }
}
