using System.Text.Json;
using System.Text.Json.Serialization;

namespace HardPair.Storage.Checkpoints;

/// <summary>The on-disk names and the JSON form of a checkpoint folder.</summary>
public static class CheckpointFiles
{
    public const string Weights = "model.bin";
    public const string Manifest = "manifest.json";

    /// <summary>The signature of the manifest's bytes (HMAC hex or ECDSA, <see cref="CheckpointSigning"/>); present when the store signs.</summary>
    public const string Signature = "manifest.sig";

    /// <summary>
    /// Reads a small store file (a manifest, a signature, the pin) whole, after sizing it: a named
    /// pipe or a device reports no size, and opening one would block the reader — every scan, the
    /// service's start — until something wrote to it; a huge file would be swallowed. Null when
    /// the file is empty, larger than <paramref name="maxBytes"/> or not a regular file.
    /// </summary>
    internal static byte[]? ReadSmall(FileInfo file, int maxBytes)
    {
        if (file.Length == 0 || file.Length > maxBytes)
        {
            return null;
        }

        using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        if (!stream.CanSeek || stream.Length == 0 || stream.Length > maxBytes)
        {
            return null;
        }

        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };
}
