using System.Diagnostics;
using HardPair.ML.Attacks;
using HardPair.ML.Data;
using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Evaluation;

/// <summary>Measures a model's accuracy on a dataset, clean or under an attack (a suite scores the worst case per example).</summary>
public static class RobustnessEvaluator
{
    public static AttackResult Run(nn.Module<Tensor, Tensor> model, ImageDataset data, IAttack? attack, int batchSize, Device device, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var clock = Stopwatch.StartNew();
        var classes = data.ClassNames.Count;
        var confusion = Enumerable.Range(0, classes).Select(_ => new long[classes]).ToArray();
        using var mode = new EvalModeScope(model);
        foreach (var indices in data.BatchIndices(batchSize, seed: null))
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            var (images, labels) = data.Batch(indices);
            images = images.to(device);
            labels = labels.to(device);
            var inputs = attack is null ? images : attack.Perturb(model, images, labels, cancellationToken);
            long[] predicted;
            using (torch.inference_mode())
            {
                predicted = model.forward(inputs).argmax(1).cpu().data<long>().ToArray();
            }

            var truth = labels.cpu().data<long>().ToArray();
            for (var i = 0; i < truth.Length; i++)
            {
                confusion[truth[i]][predicted[i]]++;
            }
        }

        return Scored(attack, confusion, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Clean accuracy and confusion from logits already computed (<c>[N, C]</c>, with their labels),
    /// so that one forward pass over the test set serves both this and calibration.
    /// </summary>
    public static AttackResult Clean(Tensor logits, Tensor labels, int classes, double seconds)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = torch.NewDisposeScope();
        var predicted = logits.argmax(1).cpu().data<long>().ToArray();
        var truth = labels.cpu().data<long>().ToArray();
        var confusion = Enumerable.Range(0, classes).Select(_ => new long[classes]).ToArray();
        for (var i = 0; i < truth.Length; i++)
        {
            confusion[truth[i]][predicted[i]]++;
        }

        return Scored(null, confusion, seconds);
    }

    private static AttackResult Scored(IAttack? attack, long[][] confusion, double seconds)
    {
        var correct = Enumerable.Range(0, confusion.Length).Sum(i => confusion[i][i]);
        var total = confusion.Sum(row => row.Sum());
        return new AttackResult(
            attack?.Name ?? AttackCatalog.Clean,
            attack?.Epsilon ?? 0,
            attack?.Steps ?? 0,
            attack?.StepSize ?? 0,
            total == 0 ? 0 : (double)correct / total,
            confusion)
        {
            Seconds = seconds,
            Stages = (attack as AttackSuite)?.Stages,
        };
    }
}
