using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>Cross-entropy on clean inputs: the undefended baseline.</summary>
public sealed class StandardObjective(ObjectiveOptions options) : ITrainingObjective
{
    public string Name => TrainingObjectives.Standard;

    public ObjectiveOptions Options { get; } = options;

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.train();
        var loss = Losses.ScaledCrossEntropy(model.forward(images), labels, Options.Scale);
        return new ObjectiveLoss(loss, loss, null);
    }
}
