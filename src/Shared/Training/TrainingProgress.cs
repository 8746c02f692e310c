namespace HardPair.Shared.Training;

/// <summary>One optimiser step's report.</summary>
public sealed record TrainingProgress(int Step, int TotalSteps, double Epoch, double Loss, double NaturalLoss, double? RobustLoss, double LearningRate, double ExamplesPerSecond);
