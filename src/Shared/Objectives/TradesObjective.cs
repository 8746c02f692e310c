using HardPair.Shared.Attacks;
using static TorchSharp.torch;

namespace HardPair.Shared.Objectives;

/// <summary>TRADES (Zhang et al. 2019): CE(s·z, y) + β · KL(p ‖ q), the attack maximising the KL.</summary>
public sealed class TradesObjective : ITrainingObjective
{
    private readonly ConsistencyAttack attack;

    public TradesObjective(ObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        attack = new ConsistencyAttack(
            options.Epsilon,
            options.AttackSteps,
            options.AttackStepSize,
            (clean, adversarial) => Losses.TradesKl(clean, adversarial, options.Scale),
            options.Seed);
    }

    public string Name => TrainingObjectives.Trades;

    public ObjectiveOptions Options { get; }

    public ObjectiveLoss Compute(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(model);
        var adversarial = attack.Perturb(model, images);
        model.train();
        var clean = model.forward(images);
        var natural = Losses.ScaledCrossEntropy(clean, labels, Options.Scale);
        var robust = Losses.TradesKl(clean, model.forward(adversarial), Options.Scale);
        return new ObjectiveLoss(natural.add(robust.mul(Options.Beta)), natural, robust);
    }
}
