using HardPair.ML.Attacks;
using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>PGD-AT (Madry et al. 2018): cross-entropy on PGD examples crafted against the labels.</summary>
public sealed class PgdAtObjective : ITrainingObjective
{
    private readonly Pgd attack;

    public PgdAtObjective(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        attack = new Pgd(options.Epsilon, options.AttackSteps, options.AttackStepSize, options.Scale, AttackLoss.CrossEntropy, options.Seed);
    }

    public string Name => TrainingObjectives.PgdAt;

    public ObjectiveOptions Options { get; }

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        var adversarial = attack.Perturb(model, images, labels);
        model.train();
        var loss = Losses.ScaledCrossEntropy(model.forward(adversarial), labels, Options.Scale);
        return new ObjectiveLoss(loss, loss, null);
    }
}
