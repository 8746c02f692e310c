using System.Globalization;
using System.Text.Json;
using HardPair.Storage.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HardPair.ML.Training;

/// <summary>Where a run keeps its training state, and how often, so that a crash costs at most <see cref="Every"/> steps.</summary>
public sealed record TrainingSnapshotOptions(string Folder, int Every);

/// <summary>One durable snapshot: the step it was taken after, and its files.</summary>
public sealed record TrainingSnapshot(int Step, double LearningRate, string Folder)
{
    public string WeightsPath => Path.Combine(Folder, TrainingSnapshots.Weights);

    /// <summary>The optimizer's velocity as <see cref="FlatSgd"/> writes it.</summary>
    public string VelocityPath => Path.Combine(Folder, TrainingSnapshots.Velocity);

    /// <summary>The exponential moving average of the weights, in runs that keep one (absent in snapshots from before it was saved).</summary>
    public string AveragePath => Path.Combine(Folder, TrainingSnapshots.Average);

    /// <summary>The optimizer state as TorchSharp's <c>optim.SGD</c> wrote it, in snapshots from before <see cref="FlatSgd"/>.</summary>
    public string LegacyOptimizerPath => Path.Combine(Folder, TrainingSnapshots.LegacyOptimizer);
}

/// <summary>
/// Snapshots of weights + optimizer state + step in <c>step-NNNNNNNN/</c> folders: written into a
/// temporary folder, flushed, renamed into place, and only then are older ones removed, so the
/// latest complete snapshot always survives a crash.
/// </summary>
public static class TrainingSnapshots
{
    public const string Weights = "model.bin";
    public const string Velocity = "velocity.bin";
    public const string Average = "average.bin";
    public const string LegacyOptimizer = "optimizer.bin";
    private const string State = "state.json";
    private const string Prefix = "step-";

    public static TrainingSnapshot? Latest(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
        {
            return null;
        }

        return Directory.EnumerateDirectories(folder, Prefix + "*")
            .Select(TryRead)
            .Where(s => s is not null)
            .MaxBy(s => s!.Step);
    }

    internal static void Write(string folder, int step, double learningRate, nn.Module model, FlatSgd optimizer, WeightAverage? average)
    {
        Directory.CreateDirectory(folder);
        var name = string.Create(CultureInfo.InvariantCulture, $"{Prefix}{step:D8}");
        var final = Path.Combine(folder, name);
        var staging = Path.Combine(folder, $".{name}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        model.save(Path.Combine(staging, Weights));
        using (var velocity = File.Create(Path.Combine(staging, Velocity)))
        {
            optimizer.Save(velocity);
        }

        DurableFiles.FlushFile(Path.Combine(staging, Weights));
        DurableFiles.FlushFile(Path.Combine(staging, Velocity));
        if (average is not null)
        {
            using (var stream = File.Create(Path.Combine(staging, Average)))
            {
                average.Save(stream);
            }

            DurableFiles.FlushFile(Path.Combine(staging, Average));
        }

        DurableFiles.WriteAllBytes(Path.Combine(staging, State), JsonSerializer.SerializeToUtf8Bytes(new SnapshotState(step, learningRate)));
        DurableFiles.FlushDirectory(staging);
        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }

        Directory.Move(staging, final);
        DurableFiles.FlushDirectory(folder);
        foreach (var old in Directory.EnumerateDirectories(folder).Where(d => Path.GetFileName(d) != name))
        {
            Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>Loads the snapshot's weights into the model; before a <see cref="FlatSgd"/> takes its parameters over.</summary>
    internal static void RestoreWeights(TrainingSnapshot snapshot, nn.Module model) =>
        model.load(snapshot.WeightsPath, strict: true);

    /// <summary>
    /// Loads the optimizer's velocity. A snapshot written before <see cref="FlatSgd"/> holds
    /// TorchSharp's per-parameter momentum buffers instead: they are read with the optimizer that
    /// wrote them and laid end to end in parameter order — the flat buffer's layout — so a run
    /// interrupted before an upgrade resumes where it stopped.
    /// </summary>
    internal static void RestoreOptimizer(TrainingSnapshot snapshot, nn.Module model, FlatSgd optimizer)
    {
        if (File.Exists(snapshot.VelocityPath))
        {
            using var stream = File.OpenRead(snapshot.VelocityPath);
            optimizer.Load(stream);
            return;
        }

        using var legacy = torch.optim.SGD(model.parameters(), optimizer.LearningRate, optimizer.Momentum, weight_decay: optimizer.WeightDecay);
        legacy.load_state_dict(snapshot.LegacyOptimizerPath);
        var buffers = legacy.state_dict().State.Select(state => ((SGD.State)state).momentum_buffer).ToArray();
        if (buffers.All(buffer => buffer is null))
        {
            optimizer.SetVelocity(null);
            return;
        }

        if (buffers.Any(buffer => buffer is null))
        {
            throw new InvalidDataException($"The snapshot {snapshot.Folder} has momentum for some parameters only.");
        }

        using var scope = torch.NewDisposeScope();
        optimizer.SetVelocity(torch.cat(buffers.Select(buffer => buffer!.reshape(-1)).ToArray()));
    }

    /// <summary>
    /// Loads the snapshot's weight average. A snapshot without one (written before averages were
    /// saved, or by a run without one) leaves the average where it starts: at the resumed weights.
    /// </summary>
    internal static void RestoreAverage(TrainingSnapshot snapshot, WeightAverage average)
    {
        if (File.Exists(snapshot.AveragePath))
        {
            using var stream = File.OpenRead(snapshot.AveragePath);
            average.Load(stream);
        }
    }

    private static TrainingSnapshot? TryRead(string folder)
    {
        try
        {
            var state = JsonSerializer.Deserialize<SnapshotState>(File.ReadAllBytes(Path.Combine(folder, State)));
            return state is null || !File.Exists(Path.Combine(folder, Weights))
                || !(File.Exists(Path.Combine(folder, Velocity)) || File.Exists(Path.Combine(folder, LegacyOptimizer)))
                ? null
                : new TrainingSnapshot(state.Step, state.LearningRate, folder);
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private sealed record SnapshotState(int Step, double LearningRate);
}
