using System.Text;
using Google.Protobuf;
using HardPair.Protos.V1;
using HardPair.Shared.Checkpoints;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// Every run as <c>runs/&lt;id&gt;.json</c> (the contract's <see cref="Run"/> in protobuf JSON),
/// replaced atomically (write, fsync, rename, fsync folder) on every phase change, so a restart
/// sees each run exactly as last acknowledged. A run's training snapshots live beside it in
/// <c>runs/&lt;id&gt;.snapshots/</c>.
/// </summary>
public sealed class RunStore
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    public RunStore(string statePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(statePath);
        Folder = Path.Combine(Path.GetFullPath(statePath), "runs");
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public string SnapshotFolder(string runId) => Path.Combine(Folder, $"{runId}.snapshots");

    public void Save(Run run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var path = Path.Combine(Folder, $"{run.RunId}.json");
        var staging = Path.Combine(Folder, $".{run.RunId}.{Guid.NewGuid():N}.tmp");
        DurableFiles.WriteAllBytes(staging, Encoding.UTF8.GetBytes(Formatter.Format(run)));
        File.Move(staging, path, overwrite: true);
        DurableFiles.FlushDirectory(Folder);
    }

    /// <summary>Every stored run, oldest first; unreadable files are reported, not dropped silently.</summary>
    public (IReadOnlyList<Run> Runs, IReadOnlyList<string> Unreadable) LoadAll()
    {
        var runs = new List<Run>();
        var unreadable = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Folder, "*.json"))
        {
            try
            {
                runs.Add(Parser.Parse<Run>(File.ReadAllText(file)));
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or IOException)
            {
                unreadable.Add($"{file}: {ex.Message}");
            }
        }

        foreach (var leftover in Directory.EnumerateFiles(Folder, ".*.tmp"))
        {
            File.Delete(leftover);
        }

        return ([.. runs.OrderBy(r => r.CreatedAt?.ToDateTimeOffset()).ThenBy(r => r.RunId, StringComparer.Ordinal)], unreadable);
    }

    public void Delete(string runId)
    {
        File.Delete(Path.Combine(Folder, $"{runId}.json"));
        DeleteSnapshots(runId);
    }

    public void DeleteSnapshots(string runId)
    {
        var snapshots = SnapshotFolder(runId);
        if (Directory.Exists(snapshots))
        {
            Directory.Delete(snapshots, recursive: true);
        }
    }
}
