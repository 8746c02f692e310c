namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// The entries a run's hyper-parameter map carries besides the catalog's
/// (<see cref="ML.Recipes.HyperParameters"/>): what the request's data section asked for.
/// </summary>
internal static class RunSettings
{
    /// <summary>The request's <c>data.seed</c>: seeds the training subset and the objective.</summary>
    public const string Seed = "seed";

    /// <summary>1 when the request's <c>data.exclude_feedback</c> leaves the feedback log out.</summary>
    public const string ExcludeFeedback = "excludeFeedback";
}
