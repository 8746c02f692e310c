using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace HardPair.Storage.Checkpoints;

/// <summary>
/// A folder of checkpoints, one sub-folder per version. Publishing writes into
/// <c>.staging/</c>, flushes every file and the folder to disk, then renames the folder into
/// place — a single atomic step — and flushes the store folder. Readers list only
/// non-hidden folders, so they see a version completely or not at all, whatever happens to
/// the writer.
/// </summary>
public sealed class CheckpointStore
{
    public const string StagingFolder = ".staging";

    /// <summary>Where seeding moves a version folder that blocks its name but no longer verifies (e.g. signed with a rotated key): kept, not served.</summary>
    public const string SetAsideFolder = ".set-aside";

    /// <summary>The operator's pin (<see cref="StorePin"/>) at the store's root; version folders are never files, so it cannot clash.</summary>
    public const string PinFile = "pin.json";

    private const int MaxPinBytes = 4096;

    private readonly TimeProvider time;

    /// <param name="signing">Signs what is published and requires every version read to verify; <see cref="CheckpointSigning.None"/> when null.</param>
    public CheckpointStore(string root, TimeProvider time, CheckpointSigning? signing = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentNullException.ThrowIfNull(time);
        Root = Path.GetFullPath(root);
        this.time = time;
        Signing = signing ?? CheckpointSigning.None;
    }

    public string Root { get; }

    public CheckpointSigning Signing { get; }

    /// <summary>
    /// Fault injection for tests: called after each step of a publish, inside it (an exception
    /// thrown here fails the publish as a failed write would; a process killed here is a crash
    /// at that step).
    /// </summary>
    internal Action<PublishStep>? AfterStep { get; set; }

    /// <summary>Publishes serialized weights with <paramref name="draft"/>'s metadata as a new version.</summary>
    public CheckpointManifest Publish(ReadOnlySpan<byte> weights, CheckpointManifest draft)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var createdAt = time.GetUtcNow();
        var digest = Convert.ToHexStringLower(SHA256.HashData(weights));
        var version = string.Create(CultureInfo.InvariantCulture, $"v{createdAt:yyyyMMdd'T'HHmmssfff'Z'}-{digest[..8]}");
        var manifest = draft with
        {
            SchemaVersion = CheckpointManifest.CurrentSchemaVersion,
            Version = version,
            CreatedAt = createdAt,
            WeightsSha256 = digest,
            WeightsBytes = weights.Length,
        };
        CheckpointReader.CheckManifest(version, manifest, expectedVersion: null);

        var target = Path.Combine(Root, version);
        if (Directory.Exists(target))
        {
            throw new CheckpointException(version, "a checkpoint with this version already exists");
        }

        if (Signing.Enabled && !Signing.CanSign)
        {
            throw new CheckpointException(version, $"this store's key is an {Signing.Kind}: publishing needs the private key");
        }

        Commit(version, weights, JsonSerializer.SerializeToUtf8Bytes(manifest, CheckpointFiles.Json));
        return manifest;
    }

    /// <summary>
    /// When the store holds no valid checkpoint, copies every verified checkpoint of
    /// <paramref name="source"/> in (staged, flushed and renamed, like a publish); returns the
    /// versions copied. A store that already has a valid checkpoint is left alone. The source is
    /// trusted content (the image's bootstrap folder): its checkpoints need no signature, and the
    /// copies are signed with this store's key — or, where the key only verifies (an ECDSA public
    /// key), left unsigned and served because the key trusts that folder
    /// (<see cref="CheckpointSigning.TrustingSeed"/>). A folder of the same name that does not verify
    /// (signed with a rotated key, say) is moved to <see cref="SetAsideFolder"/>, not deleted.
    /// </summary>
    public IReadOnlyList<string> SeedFrom(string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        if (List().Any(e => e.IsValid))
        {
            return [];
        }

        var seeded = new List<string>();
        foreach (var entry in new CheckpointStore(source, time).List(verifyWeights: true).Where(e => e.IsValid))
        {
            var blocking = Path.Combine(Root, entry.Version);
            if (Directory.Exists(blocking))
            {
                var aside = Path.Combine(Root, SetAsideFolder);
                Directory.CreateDirectory(aside);
                Directory.Move(blocking, Path.Combine(aside, $"{entry.Version}.{time.GetUtcNow():yyyyMMdd'T'HHmmss'Z'}.{Guid.NewGuid():N}"));
            }

            var manifest = File.ReadAllBytes(Path.Combine(entry.Folder, CheckpointFiles.Manifest));
            if (Signing.Enabled && !Signing.CanSign && !Signing.Trusts(manifest))
            {
                // The copy could be neither signed nor trusted: it would never be served.
                throw new CheckpointException(entry.Version, $"this store's key is an {Signing.Kind}, so it serves seeded copies only from the seed folder it trusts (Checkpoints:SeedFrom), and {source} is not it");
            }

            Commit(entry.Version, File.ReadAllBytes(Path.Combine(entry.Folder, CheckpointFiles.Weights)), manifest);
            seeded.Add(entry.Version);
        }

        return seeded;
    }

    /// <summary>Writes a version folder into <c>.staging/</c>, flushes it, renames it into place and flushes the store folder.</summary>
    private void Commit(string version, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> manifest)
    {
        var stagingRoot = Path.Combine(Root, StagingFolder);
        Directory.CreateDirectory(stagingRoot);
        var staging = Path.Combine(stagingRoot, $"{version}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            AfterStep?.Invoke(PublishStep.StagingCreated);
            DurableFiles.WriteAllBytes(Path.Combine(staging, CheckpointFiles.Weights), weights);
            AfterStep?.Invoke(PublishStep.WeightsWritten);
            DurableFiles.WriteAllBytes(Path.Combine(staging, CheckpointFiles.Manifest), manifest);
            AfterStep?.Invoke(PublishStep.ManifestWritten);
            if (Signing.Sign(manifest) is { } signature)
            {
                DurableFiles.WriteAllBytes(Path.Combine(staging, CheckpointFiles.Signature), signature);
                AfterStep?.Invoke(PublishStep.SignatureWritten);
            }

            DurableFiles.FlushDirectory(staging);
            AfterStep?.Invoke(PublishStep.StagingFlushed);
            Directory.Move(staging, Path.Combine(Root, version));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw new CheckpointException(version, $"publish into {Root} failed ({ex.Message})", ex);
        }

        // Renamed: readers see the whole version from here on, so the publish has happened. The
        // store folder's flush only makes the new entry survive a power cut sooner; when it
        // fails, the version is still there (and still whole), so it is not reported as failed.
        try
        {
            AfterStep?.Invoke(PublishStep.Renamed);
            DurableFiles.FlushDirectory(Root);
            AfterStep?.Invoke(PublishStep.StoreFlushed);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Every version folder with its manifest, or with the reason it is refused; oldest first.</summary>
    public IReadOnlyList<StoredCheckpoint> List(bool verifyWeights = false)
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        var entries = new List<StoredCheckpoint>();
        foreach (var folder in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(folder);
            if (name.StartsWith('.'))
            {
                continue;
            }

            try
            {
                var manifest = verifyWeights
                    ? CheckpointReader.Verify(folder, name, Signing)
                    : CheckpointReader.ReadManifest(folder, name, Signing);
                entries.Add(new StoredCheckpoint(name, folder, manifest, null));
            }
            catch (CheckpointException ex)
            {
                entries.Add(new StoredCheckpoint(name, folder, null, ex.Fault));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // One unreadable folder must not hide the others.
                entries.Add(new StoredCheckpoint(name, folder, null, $"unreadable ({ex.Message})"));
            }
        }

        // Version ids start with their UTC creation time, so name order is age order.
        return entries.OrderBy(e => e.Version, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// What serving should hold: the pinned version when one is pinned and verifies, else the
    /// newest that verifies (<see cref="Latest"/>) — a pin to a version that is gone or broken, or
    /// a pin file that cannot be read, must not leave nothing to train from. (The inference
    /// service is stricter about an unreadable pin: it keeps what serves.)
    /// </summary>
    public StoredCheckpoint? Serving()
    {
        StorePin? pin;
        try
        {
            pin = ReadPin();
        }
        catch (CheckpointException)
        {
            pin = null;
        }

        if (pin is not null && List().FirstOrDefault(e => e.Version == pin.Version && e.IsValid) is { } pinned)
        {
            try
            {
                CheckpointReader.Verify(pinned.Folder, pinned.Version, Signing);
                return pinned;
            }
            catch (CheckpointException)
            {
                // Falls back to the newest, below.
            }
        }

        return Latest();
    }

    /// <summary>
    /// The operator's pin, or null when serving follows the newest version. A pin file that cannot
    /// be read as one is reported (<see cref="CheckpointException"/>), not taken for "no pin": an
    /// operator who pinned must not silently get the newest version back.
    /// </summary>
    public StorePin? ReadPin()
    {
        var path = Path.Combine(Root, PinFile);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            return null;
        }

        var bytes = CheckpointFiles.ReadSmall(info, MaxPinBytes)
            ?? throw new CheckpointException(path, $"{PinFile} is not a pin (empty, too large or not a regular file)");
        StorePin? pin;
        try
        {
            pin = JsonSerializer.Deserialize<StorePin>(bytes, CheckpointFiles.Json);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException(path, $"{PinFile} is not a valid pin ({ex.Message})", ex);
        }

        if (pin is null || pin.Version is null || !IsValidVersionId(pin.Version))
        {
            throw new CheckpointException(path, $"{PinFile} does not name a valid version id");
        }

        return pin;
    }

    /// <summary>Records <paramref name="version"/> as pinned: written aside, flushed, renamed over the old pin, the store folder flushed.</summary>
    public StorePin WritePin(string version)
    {
        if (!IsValidVersionId(version))
        {
            throw new CheckpointException(version, "not a valid version id");
        }

        var pin = new StorePin(version, time.GetUtcNow());
        Directory.CreateDirectory(Root);
        var draft = Path.Combine(Root, $".{PinFile}.{Guid.NewGuid():N}");
        try
        {
            DurableFiles.WriteAllBytes(draft, JsonSerializer.SerializeToUtf8Bytes(pin, CheckpointFiles.Json));
            File.Move(draft, Path.Combine(Root, PinFile), overwrite: true);
        }
        finally
        {
            File.Delete(draft);
        }

        DurableFiles.FlushDirectory(Root);
        return pin;
    }

    /// <summary>Removes the pin (serving follows the newest version again); durable when it returns.</summary>
    public void ClearPin()
    {
        File.Delete(Path.Combine(Root, PinFile));
        if (Directory.Exists(Root))
        {
            DurableFiles.FlushDirectory(Root);
        }
    }

    /// <summary>The newest version whose manifest and weights verify, or null.</summary>
    public StoredCheckpoint? Latest()
    {
        foreach (var entry in List().Where(e => e.IsValid).Reverse())
        {
            try
            {
                CheckpointReader.Verify(entry.Folder, entry.Version, Signing);
                return entry;
            }
            catch (CheckpointException)
            {
                // A broken newest version must not hide an older good one.
            }
        }

        return null;
    }

    /// <summary>
    /// Whether <paramref name="version"/> can name a version folder: 1–128 characters of
    /// <c>[A-Za-z0-9._-]</c>, not starting with a dot (no hidden or staging folders, no paths).
    /// </summary>
    public static bool IsValidVersionId(string version) =>
        version.Length is > 0 and <= 128
        && version[0] != '.'
        && !version.Contains("..", StringComparison.Ordinal)
        && version.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>The folder of an existing version; throws for an invalid id or a version the store does not hold.</summary>
    public string FolderOf(string version)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        if (!IsValidVersionId(version))
        {
            throw new CheckpointException(version, "not a valid version id");
        }

        var folder = Path.Combine(Root, version);
        if (!Directory.Exists(folder))
        {
            throw new CheckpointException(version, $"no such version in {Root}");
        }

        return folder;
    }

    /// <summary>
    /// Removes staging folders left by publishers that died mid-write (their process is gone);
    /// returns how many were removed. Folders of live publishers are left alone.
    /// </summary>
    public int RemoveAbandonedStaging()
    {
        var stagingRoot = Path.Combine(Root, StagingFolder);
        if (!Directory.Exists(stagingRoot))
        {
            return 0;
        }

        var removed = 0;
        foreach (var folder in Directory.EnumerateDirectories(stagingRoot))
        {
            var parts = Path.GetFileName(folder).Split('.');
            if (parts.Length >= 3 && int.TryParse(parts[^2], CultureInfo.InvariantCulture, out var pid) && IsAlive(pid))
            {
                continue;
            }

            if (TryDelete(folder))
            {
                removed++;
            }
        }

        return removed;
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>The steps of a publish, in order.</summary>
public enum PublishStep
{
    StagingCreated,
    WeightsWritten,
    ManifestWritten,
    SignatureWritten,
    StagingFlushed,
    Renamed,
    StoreFlushed,
}
