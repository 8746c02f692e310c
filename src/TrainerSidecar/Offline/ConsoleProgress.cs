using System.Diagnostics;
using System.Globalization;
using HardPair.ML.Training;

namespace HardPair.TrainerSidecar.Offline;

/// <summary>
/// Training progress for people: a bar redrawn in place on a terminal, plain lines (about every
/// 5% of the run, and the last step) when the output is a file or a pipe.
/// </summary>
internal sealed class ConsoleProgress(TextWriter writer, bool interactive) : IProgress<TrainingProgress>, IProgress<string>
{
    private const int BarWidth = 28;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private TimeSpan lastDraw = TimeSpan.MinValue;
    private bool barShown;

    public void Report(TrainingProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var last = value.Step == value.TotalSteps;
        if (interactive)
        {
            if (!last && clock.Elapsed - lastDraw < TimeSpan.FromMilliseconds(200))
            {
                return;
            }

            lastDraw = clock.Elapsed;
            var filled = (int)Math.Round(BarWidth * (double)value.Step / value.TotalSteps);
            writer.Write($"\r[{new string('#', filled)}{new string('.', BarWidth - filled)}] {Describe(value)}\u001b[K");
            barShown = true;
            if (last)
            {
                writer.WriteLine();
                barShown = false;
            }

            return;
        }

        var every = Math.Max(1, value.TotalSteps / 20);
        if (last || value.Step % every == 0)
        {
            writer.WriteLine(Describe(value));
        }
    }

    /// <summary>A phase message (evaluation results, publishing) on a line of its own.</summary>
    public void Report(string value)
    {
        if (barShown)
        {
            writer.WriteLine();
            barShown = false;
        }

        writer.WriteLine(value);
    }

    private string Describe(TrainingProgress p)
    {
        var elapsed = clock.Elapsed;
        var remaining = p.Step == 0 ? TimeSpan.Zero : elapsed * ((double)(p.TotalSteps - p.Step) / p.Step);
        var robust = p.RobustLoss is { } r ? string.Create(CultureInfo.InvariantCulture, $" robust {r:0.000}") : "";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"step {p.Step}/{p.TotalSteps} epoch {p.Epoch:0.00} loss {p.Loss:0.000} natural {p.NaturalLoss:0.000}{robust} lr {p.LearningRate:0.#####} {p.ExamplesPerSecond:0} img/s elapsed {elapsed:hh\\:mm\\:ss} eta {remaining:hh\\:mm\\:ss}");
    }
}
