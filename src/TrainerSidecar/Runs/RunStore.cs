using System.Text;
using Google.Protobuf;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>
/// Every run as <c>runs/&lt;id&gt;.json</c> (its contract form, <see cref="Run"/>, in protobuf JSON),
/// replaced atomically (write, fsync, rename, fsync folder) on every phase change, so a restart
/// sees each run exactly as last acknowledged. A run's training snapshots live beside it in
/// <c>runs/&lt;id&gt;.snapshots/</c>. With replicas the folder is shared: followers add queued runs
/// (new files, never rewriting one) and cancellation requests (<c>runs/&lt;id&gt;.cancel</c>) for the
/// leader to take up.
/// </summary>
public sealed partial class RunStore
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

    public void Save(TrainingRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        Replace($"{run.RunId}.json", Formatter.Format(run.ToContract()));
    }

    /// <summary>One stored run; null when there is none, or the id could not name one.</summary>
    public TrainingRun? Load(string runId)
    {
        if (!RunIdPattern().IsMatch(runId))
        {
            return null;
        }

        try
        {
            return TrainingRun.FromContract(Parser.Parse<Run>(File.ReadAllText(Path.Combine(Folder, $"{runId}.json"))));
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidProtocolBufferException or InvalidJsonException)
        {
            // Gone (trimmed), or being replaced on a file system without atomic renames: as if absent.
            return null;
        }
    }

    /// <summary>The ids of every stored run.</summary>
    public IEnumerable<string> Ids() =>
        Directory.EnumerateFiles(Folder, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Where(id => RunIdPattern().IsMatch(id));

    /// <summary>Asks the leader to cancel a run (durably; it carries it out within a second).</summary>
    public void RequestCancel(string runId, string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (!RunIdPattern().IsMatch(runId))
        {
            throw new ArgumentException($"'{runId}' is no run id", nameof(runId));
        }

        Replace($"{runId}.cancel", reason);
    }

    /// <summary>The cancellations followers asked for: run id and reason.</summary>
    public IReadOnlyList<(string RunId, string Reason)> CancelRequests()
    {
        var requests = new List<(string, string)>();
        foreach (var file in Directory.EnumerateFiles(Folder, "*.cancel"))
        {
            try
            {
                requests.Add((Path.GetFileNameWithoutExtension(file), File.ReadAllText(file)));
            }
            catch (FileNotFoundException)
            {
                // Taken up meanwhile.
            }
        }

        return requests;
    }

    public void DeleteCancelRequest(string runId) => File.Delete(Path.Combine(Folder, $"{runId}.cancel"));

    private void Replace(string name, string text)
    {
        var staging = Path.Combine(Folder, $".{name}.{Guid.NewGuid():N}.tmp");
        DurableFiles.WriteAllBytes(staging, Encoding.UTF8.GetBytes(text));
        File.Move(staging, Path.Combine(Folder, name), overwrite: true);
        DurableFiles.FlushDirectory(Folder);
    }

    /// <summary>Every stored run, oldest first; unreadable files are reported, not dropped silently.</summary>
    public (IReadOnlyList<TrainingRun> Runs, IReadOnlyList<string> Unreadable) LoadAll()
    {
        var runs = new List<TrainingRun>();
        var unreadable = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Folder, "*.json"))
        {
            try
            {
                runs.Add(TrainingRun.FromContract(Parser.Parse<Run>(File.ReadAllText(file))));
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or IOException)
            {
                unreadable.Add($"{file}: {ex.Message}");
            }
        }

        return ([.. runs.OrderBy(r => r.CreatedAt).ThenBy(r => r.RunId, StringComparer.Ordinal)], unreadable);
    }

    /// <summary>
    /// Removes staging files that a crash left behind. Only old ones: on a shared folder a younger
    /// one may be another replica's write in progress.
    /// </summary>
    public void DeleteLeftovers(DateTimeOffset writtenBefore)
    {
        foreach (var leftover in Directory.EnumerateFiles(Folder, ".*.tmp"))
        {
            if (File.GetLastWriteTimeUtc(leftover) < writtenBefore.UtcDateTime)
            {
                File.Delete(leftover);
            }
        }
    }

    public void Delete(string runId)
    {
        File.Delete(Path.Combine(Folder, $"{runId}.json"));
        DeleteCancelRequest(runId);
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

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]
    private static partial System.Text.RegularExpressions.Regex RunIdPattern();
}
