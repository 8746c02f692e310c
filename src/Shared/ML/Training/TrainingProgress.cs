namespace HardPair.ML.Training;

/// <summary>One optimiser step's report.</summary>
public sealed record TrainingProgress(int Step, int TotalSteps, double Epoch, double Loss, double NaturalLoss, double? RobustLoss, double LearningRate, double ExamplesPerSecond);

/// <summary>How a training call ended: its total steps, and the step it resumed from (0 for a fresh start).</summary>
public sealed record TrainingOutcome(int TotalSteps, int ResumedFromStep);
