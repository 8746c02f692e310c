using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>
/// A training objective: builds a batch's loss, crafting adversarial examples as it needs
/// (with the model in eval mode), and leaves the model in train mode. The caller runs
/// backward and the optimiser step inside its own dispose scope.
/// </summary>
public interface ITrainingObjective
{
    string Name { get; }

    ObjectiveOptions Options { get; }

    ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels);
}
