using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Training;

/// <summary>
/// An exponential moving average of a model's parameters, kept beside <see cref="FlatSgd"/>'s
/// flat buffer (one element-wise update per step): a = d·a + (1 − d)·w with d warming up as
/// min(decay, (1 + t) / (10 + t)), so the first steps' random weights fade fast.
/// </summary>
internal sealed class WeightAverage : IDisposable
{
    private readonly FlatSgd optimizer;
    private readonly double decay;
    private readonly Tensor average;
    private long updates;

    public WeightAverage(FlatSgd optimizer, double decay)
    {
        this.optimizer = optimizer;
        this.decay = decay;
        using var noGrad = torch.no_grad();
        average = optimizer.Values.clone().DetachFromDisposeScope();
    }

    public void Update()
    {
        using var noGrad = torch.no_grad();
        updates++;
        var d = Math.Min(decay, (1.0 + updates) / (10.0 + updates));
        average.mul_(d).add_(optimizer.Values, alpha: 1 - d);
    }

    /// <summary>Puts the average into the model's parameters.</summary>
    public void CopyInto()
    {
        using var noGrad = torch.no_grad();
        optimizer.Values.copy_(average);
    }

    public void Dispose() => average.Dispose();
}
