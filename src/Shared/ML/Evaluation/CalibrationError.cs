using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Evaluation;

/// <summary>
/// Expected calibration error: predictions grouped into equal-width confidence bins,
/// ECE = Σ_b (|b| / N) · |accuracy(b) − mean confidence(b)|.
/// </summary>
public static class CalibrationError
{
    public const int DefaultBins = 15;

    /// <summary>ECE of softmax(z / T) for raw logits [N, C] and labels [N].</summary>
    public static double Expected(Tensor logits, Tensor labels, double temperature, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temperature);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bins);
        double[] confidence;
        long[] predicted;
        using (torch.NewDisposeScope())
        using (torch.no_grad())
        {
            var (values, indices) = logits.detach().to(ScalarType.Float64).div(temperature).softmax(1).max(1);
            confidence = values.cpu().data<double>().ToArray();
            predicted = indices.cpu().data<long>().ToArray();
        }

        var truth = labels.cpu().data<long>().ToArray();
        return Expected(confidence, predicted.Select((p, i) => p == truth[i]).ToArray(), bins);
    }

    /// <summary>ECE from each prediction's confidence and whether it was right.</summary>
    public static double Expected(IReadOnlyList<double> confidence, IReadOnlyList<bool> correct, int bins = DefaultBins)
    {
        ArgumentNullException.ThrowIfNull(confidence);
        ArgumentNullException.ThrowIfNull(correct);
        if (confidence.Count != correct.Count)
        {
            throw new ArgumentException("one correctness flag per confidence is needed", nameof(correct));
        }

        if (confidence.Count == 0)
        {
            return 0;
        }

        var count = new int[bins];
        var hits = new int[bins];
        var sum = new double[bins];
        for (var i = 0; i < confidence.Count; i++)
        {
            // Bins are (k/B, (k+1)/B]; a confidence of exactly 0 joins the first.
            var bin = Math.Clamp((int)Math.Ceiling(confidence[i] * bins) - 1, 0, bins - 1);
            count[bin]++;
            sum[bin] += confidence[i];
            hits[bin] += correct[i] ? 1 : 0;
        }

        var ece = 0.0;
        for (var b = 0; b < bins; b++)
        {
            if (count[b] > 0)
            {
                ece += (double)count[b] / confidence.Count * Math.Abs(((double)hits[b] / count[b]) - (sum[b] / count[b]));
            }
        }

        return ece;
    }
}
