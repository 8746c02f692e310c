using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>Puts a model in eval mode and gives it back in the mode it had.</summary>
public readonly struct EvalModeScope : IDisposable
{
    private readonly nn.Module model;
    private readonly bool wasTraining;

    public EvalModeScope(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        this.model = model;
        wasTraining = model.training;
        model.eval();
    }

    public void Dispose()
    {
        if (wasTraining)
        {
            model.train();
        }
    }
}
