using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace HardPair.Storage.Checkpoints;

/// <summary>
/// Verifies checkpoint folders before anything in them is used: the manifest (and its signature)
/// over the very bytes read, then the weights' size and digest over the very bytes handed on —
/// no window between check and use (<c>HardPair.ML.Checkpoints.CheckpointLoader</c> loads those
/// bytes into a network).
/// </summary>
public static class CheckpointReader
{
    /// <summary>Far above any real manifest (a few KB with the evaluation and hard pairs), far below a memory problem.</summary>
    public const int MaxManifestBytes = 1 << 20;

    /// <summary>Reads and checks the manifest (and its signature when <paramref name="signing"/> is on), and checks the weights' size and digest.</summary>
    public static CheckpointManifest Verify(string folder, string? expectedVersion = null, CheckpointSigning? signing = null) =>
        WithVerifiedWeights(folder, expectedVersion, signing, (manifest, _) => manifest);

    /// <summary>
    /// Verifies the folder as <see cref="Verify"/> does and hands <paramref name="use"/> the
    /// manifest and the very weight bytes that were hashed; the bytes are a pooled buffer, valid
    /// only during the call.
    /// </summary>
    public static T WithVerifiedWeights<T>(string folder, string? expectedVersion, CheckpointSigning? signing, Func<CheckpointManifest, ArraySegment<byte>, T> use)
    {
        ArgumentNullException.ThrowIfNull(use);
        var manifest = ReadManifest(folder, expectedVersion, signing);
        var weights = ReadWeights(folder, manifest);
        try
        {
            VerifyWeights(folder, manifest, weights);
            return use(manifest, weights);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(weights.Array!);
        }
    }

    /// <summary>
    /// Reads <c>manifest.json</c>, checks its signature over the very bytes read (when
    /// <paramref name="signing"/> is on), then that it is complete and self-consistent.
    /// </summary>
    public static CheckpointManifest ReadManifest(string folder, string? expectedVersion = null, CheckpointSigning? signing = null)
    {
        var path = Path.Combine(folder, CheckpointFiles.Manifest);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Manifest} is missing");
        }

        var bytes = CheckpointFiles.ReadSmall(info, MaxManifestBytes)
            ?? throw new CheckpointException(folder, $"{CheckpointFiles.Manifest} is empty, not a regular file or more than a manifest ({info.Length} bytes; at most {MaxManifestBytes})");
        CheckpointManifest? manifest;
        try
        {
            (signing ?? CheckpointSigning.None).Check(folder, bytes);
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(bytes, CheckpointFiles.Json);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Manifest} is not a valid manifest ({ex.Message})", ex);
        }

        if (manifest is null)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Manifest} is empty");
        }

        CheckManifest(folder, manifest, expectedVersion);
        return manifest.AsCurrentSchema();
    }

    internal static void CheckManifest(string folder, CheckpointManifest manifest, string? expectedVersion)
    {
        void Fail(string fault) => throw new CheckpointException(folder, fault);

        if (manifest.SchemaVersion is < CheckpointManifest.OldestSchemaVersion or > CheckpointManifest.CurrentSchemaVersion)
        {
            Fail($"manifest schema version {manifest.SchemaVersion} is not supported (expected {CheckpointManifest.OldestSchemaVersion} to {CheckpointManifest.CurrentSchemaVersion})");
        }

        if (string.IsNullOrWhiteSpace(manifest.Version))
        {
            Fail("manifest has no version id");
        }

        if (expectedVersion is not null && manifest.Version != expectedVersion)
        {
            Fail($"manifest names version '{manifest.Version}' but the folder is '{expectedVersion}'");
        }

        if (!NetworkCatalog.TryGet(manifest.Architecture, out var architecture))
        {
            Fail($"unknown architecture '{manifest.Architecture}' (known: {string.Join(", ", NetworkCatalog.Names)})");
        }

        if (!NetworkCatalog.IsHead(manifest.Head))
        {
            Fail($"unknown classifier head '{manifest.Head}' (expected cosine or linear)");
        }

        var expectedShape = architecture.InputShape.ToArray();
        if (manifest.InputShape is null || !manifest.InputShape.Select(d => (long)d).SequenceEqual(expectedShape))
        {
            Fail($"input shape [{string.Join(", ", manifest.InputShape ?? [])}] does not match architecture '{manifest.Architecture}' ([{string.Join(", ", expectedShape)}])");
        }

        var classes = manifest.ClassNames?.Length ?? 0;
        if (classes < 2 || manifest.ClassNames!.Any(string.IsNullOrWhiteSpace))
        {
            Fail("manifest needs at least two non-empty class names");
        }

        if (manifest.PairHardness is null || manifest.PairHardness.Length != classes
            || manifest.PairHardness.Any(row => row is null || row.Length != classes || row.Any(v => !double.IsFinite(v) || v < 0 || v > 1)))
        {
            Fail($"pair-hardness matrix must be {classes}x{classes} with values in [0, 1]");
        }

        if (!double.IsFinite(manifest.CalibrationTemperature) || manifest.CalibrationTemperature <= 0)
        {
            Fail($"calibration temperature {manifest.CalibrationTemperature} must be a positive finite number");
        }

        if (manifest.WeightsSha256 is not { Length: 64 } || !manifest.WeightsSha256.All(char.IsAsciiHexDigitLower))
        {
            Fail("manifest has no valid sha256 of the weights");
        }

        if (manifest.WeightsBytes <= 0)
        {
            Fail("manifest has no weights size");
        }
    }

    /// <summary>
    /// The weights file into a pooled buffer (callers return it): a service that verifies a
    /// candidate on every swap would otherwise leave a large-object-heap array behind each time.
    /// </summary>
    private static ArraySegment<byte> ReadWeights(string folder, CheckpointManifest manifest)
    {
        var path = Path.Combine(folder, CheckpointFiles.Weights);
        if (!File.Exists(path))
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Weights} is missing");
        }

        var length = new FileInfo(path).Length;
        if (length != manifest.WeightsBytes)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Weights} is {length} bytes but the manifest says {manifest.WeightsBytes} (truncated or replaced)");
        }

        if (length > Array.MaxLength)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Weights} is {length} bytes, more than one buffer holds");
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            var read = stream.ReadAtLeast(buffer.AsSpan(0, (int)length), (int)length, throwOnEndOfStream: false);
            if (read != length || stream.ReadByte() != -1)
            {
                throw new CheckpointException(folder, $"{CheckpointFiles.Weights} changed while being read");
            }

            return new ArraySegment<byte>(buffer, 0, (int)length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static void VerifyWeights(string folder, CheckpointManifest manifest, ArraySegment<byte> weights)
    {
        var digest = Convert.ToHexStringLower(SHA256.HashData(weights));
        if (digest != manifest.WeightsSha256)
        {
            throw new CheckpointException(folder, $"sha256 of {CheckpointFiles.Weights} is {digest}, the manifest says {manifest.WeightsSha256} (tampered or corrupted)");
        }
    }
}
