using System.Globalization;
using System.Text.Json;
using HardPair.Shared.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HardPair.Shared.Training;

/// <summary>Where a run keeps its training state, and how often, so that a crash costs at most <see cref="Every"/> steps.</summary>
public sealed record TrainingSnapshotOptions(string Folder, int Every);

/// <summary>One durable snapshot: the step it was taken after, and its files.</summary>
public sealed record TrainingSnapshot(int Step, double LearningRate, string Folder)
{
    public string WeightsPath => Path.Combine(Folder, TrainingSnapshots.Weights);

    public string OptimizerPath => Path.Combine(Folder, TrainingSnapshots.Optimizer);
}

/// <summary>
/// Snapshots of weights + optimizer state + step in <c>step-NNNNNNNN/</c> folders: written into a
/// temporary folder, flushed, renamed into place, and only then are older ones removed, so the
/// latest complete snapshot always survives a crash.
/// </summary>
public static class TrainingSnapshots
{
    public const string Weights = "model.bin";
    public const string Optimizer = "optimizer.bin";
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

    internal static void Write(string folder, int step, double learningRate, nn.Module model, OptimizerHelper optimizer)
    {
        Directory.CreateDirectory(folder);
        var name = string.Create(CultureInfo.InvariantCulture, $"{Prefix}{step:D8}");
        var final = Path.Combine(folder, name);
        var staging = Path.Combine(folder, $".{name}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        model.save(Path.Combine(staging, Weights));
        optimizer.save_state_dict(Path.Combine(staging, Optimizer));
        DurableFiles.FlushFile(Path.Combine(staging, Weights));
        DurableFiles.FlushFile(Path.Combine(staging, Optimizer));
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

    internal static void Restore(TrainingSnapshot snapshot, nn.Module model, OptimizerHelper optimizer)
    {
        model.load(snapshot.WeightsPath, strict: true);
        optimizer.load_state_dict(snapshot.OptimizerPath);
    }

    private static TrainingSnapshot? TryRead(string folder)
    {
        try
        {
            var state = JsonSerializer.Deserialize<SnapshotState>(File.ReadAllBytes(Path.Combine(folder, State)));
            return state is null || !File.Exists(Path.Combine(folder, Weights)) || !File.Exists(Path.Combine(folder, Optimizer))
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
