using HardPair.ML.Evaluation;
using static TorchSharp.torch;

namespace HardPair.ML.Objectives;

/// <summary>
/// The training run's own hard partners: the adversarial confusion of the batches seen so far,
/// each batch's counts added to the older ones decayed by <see cref="Decay"/> (so the partners
/// follow the model as it learns), and each class's partner the argmax of the pair hardness
/// h(i, j) = (A[i, j] + A[j, i]) / 2 of docs/SPAT.md. Not thread-safe: one per training loop.
/// </summary>
public sealed class PartnerTracker
{
    /// <summary>Weight of the older counts when a batch is added: about the last 100 batches count.</summary>
    public const double Decay = 0.99;

    private readonly double[][] confusion;

    public PartnerTracker(int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        confusion = Enumerable.Range(0, classes).Select(_ => new double[classes]).ToArray();
    }

    /// <summary>Whether any batch has been added.</summary>
    public bool IsEmpty { get; private set; } = true;

    /// <summary>Adds a batch's predictions (argmax of <paramref name="logits"/>) against its labels.</summary>
    public void Add(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        long[] predicted, truth;
        using (NewDisposeScope())
        {
            predicted = logits.detach().argmax(1).cpu().data<long>().ToArray();
            truth = labels.cpu().data<long>().ToArray();
        }

        foreach (var row in confusion)
        {
            for (var j = 0; j < row.Length; j++)
            {
                row[j] *= Decay;
            }
        }

        for (var k = 0; k < predicted.Length; k++)
        {
            confusion[truth[k]][predicted[k]] += 1;
        }

        IsEmpty = false;
    }

    /// <summary>Each class's hard partner under the counts so far.</summary>
    public int[] Partners() => HardPairStatistics.Partners(HardPairStatistics.Hardness(HardPairStatistics.Shares(confusion)));
}
