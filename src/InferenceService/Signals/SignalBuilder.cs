using HardPair.InferenceService.Batching;
using HardPair.InferenceService.Options;
using HardPair.Protos.V1;

namespace HardPair.InferenceService.Signals;

/// <summary>
/// The response's signals from calibrated probabilities: label, confidence, top-k and the
/// hard-pair signal. A call is <c>ambiguous</c> when its two most probable classes are each
/// other's hard partner (or one's) in the checkpoint's adversarial statistics and the margin
/// between them is below the configured threshold; the ambiguity score is (1 − margin) scaled
/// by the pair's hardness relative to the model's hardest pair.
/// </summary>
public static class SignalBuilder
{
    public static ClassifyResponse Build(InferenceResult result, int topK, InferenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(options);
        var p = result.Probabilities;
        var model = result.Model;
        var order = RankDescending(p);
        var first = order[0];
        var second = order.Length > 1 ? order[1] : first;
        var margin = p[first] - p[second];
        var hardness = model.PairHardness.Length > first ? model.PairHardness[first][second] : 0;
        var partners = model.HardPartners.Length > first && (model.HardPartners[first] == second || model.HardPartners[second] == first);
        var relative = model.MaxPairHardness > 0 ? hardness / model.MaxPairHardness : 0;

        var response = new ClassifyResponse
        {
            Label = first,
            ClassName = model.ClassNames[first],
            Confidence = p[first],
            ModelVersion = model.Version,
            HardPair = new HardPairSignal
            {
                First = Score(first, p, model.ClassNames),
                Second = Score(second, p, model.ClassNames),
                Margin = margin,
                PairHardness = (float)hardness,
                Ambiguous = partners && hardness > 0 && margin < options.AmbiguityMargin,
                AmbiguityScore = (float)Math.Clamp((1 - margin) * relative, 0, 1),
            },
        };
        response.Probabilities.AddRange(p);
        for (var k = 0; k < Math.Min(topK, p.Length); k++)
        {
            response.TopK.Add(Score(order[k], p, model.ClassNames));
        }

        return response;
    }

    /// <summary>Class indices by descending probability, ties by index (insertion sort: a handful of classes, on every call).</summary>
    internal static int[] RankDescending(float[] p)
    {
        var order = new int[p.Length];
        for (var i = 0; i < p.Length; i++)
        {
            var j = i;
            while (j > 0 && p[order[j - 1]] < p[i])
            {
                order[j] = order[j - 1];
                j--;
            }

            order[j] = i;
        }

        return order;
    }

    private static ClassScore Score(int label, float[] p, IReadOnlyList<string> names) =>
        new() { Label = label, ClassName = names[label], Probability = p[label] };
}
