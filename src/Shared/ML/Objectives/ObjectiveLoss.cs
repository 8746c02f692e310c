using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>A batch's loss to back-propagate, with its parts for reporting.</summary>
public sealed record ObjectiveLoss(Tensor Total, Tensor Natural, Tensor? Robust);
