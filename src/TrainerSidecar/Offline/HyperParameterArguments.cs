using HardPair.CommandLine;
using HardPair.ML.Recipes;

namespace HardPair.TrainerSidecar.Offline;

public static class HyperParameterArguments
{
    /// <summary>The value of <paramref name="parameter"/>'s flag, checked against its range (whole numbers where it takes only those), else <paramref name="fallback"/>.</summary>
    public static double Value(this CommandArguments line, HyperParameter parameter, double fallback)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(parameter);
        return parameter.Integral
            ? line.Int(parameter.Flag, (int)fallback, (int)parameter.Min, (int)Math.Min(parameter.Max, int.MaxValue))
            : line.Double(parameter.Flag, fallback, parameter.Min, parameter.Max);
    }
}
