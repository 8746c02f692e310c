using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Evaluation;

/// <summary>
/// Temperature scaling (Guo et al. 2017): the one T that minimises the negative log-likelihood
/// of softmax(z / T) on held-out logits z. The NLL is convex in 1/T, so a golden-section search
/// over log(1/T) finds the optimum deterministically without gradients.
/// </summary>
public static class TemperatureScaling
{
    public const double MinTemperature = 1e-3;
    public const double MaxTemperature = 1e3;
    private const int Iterations = 80;

    /// <summary>The fitted temperature for raw logits [N, C] and labels [N].</summary>
    public static double Fit(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var z = logits.detach().to(ScalarType.Float64);
        double Nll(double logInverse) =>
            nn.functional.cross_entropy(z.mul(Math.Exp(logInverse)), labels).item<double>();

        var golden = (Math.Sqrt(5) - 1) / 2;
        double low = -Math.Log(MaxTemperature), high = -Math.Log(MinTemperature);
        var a = high - (golden * (high - low));
        var b = low + (golden * (high - low));
        double fa = Nll(a), fb = Nll(b);
        for (var i = 0; i < Iterations; i++)
        {
            if (fa <= fb)
            {
                high = b;
                (b, fb) = (a, fa);
                a = high - (golden * (high - low));
                fa = Nll(a);
            }
            else
            {
                low = a;
                (a, fa) = (b, fb);
                b = low + (golden * (high - low));
                fb = Nll(b);
            }
        }

        return Math.Exp(-(low + high) / 2);
    }

    /// <summary>Mean negative log-likelihood of softmax(z / T).</summary>
    public static double NegativeLogLikelihood(Tensor logits, Tensor labels, double temperature)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temperature);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return nn.functional.cross_entropy(logits.detach().to(ScalarType.Float64).div(temperature), labels).item<double>();
    }
}
