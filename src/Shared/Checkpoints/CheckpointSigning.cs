using System.Security.Cryptography;
using System.Text;

namespace HardPair.Shared.Checkpoints;

/// <summary>
/// HMAC-SHA256 checkpoint signatures with a key shared by the trainer (signs what it publishes)
/// and the inference service (serves only what verifies). <c>manifest.sig</c> holds the hex HMAC
/// of <c>manifest.json</c>'s exact bytes; the manifest names the weights' SHA-256, so one
/// signature covers both files. Without a key (<see cref="None"/>) nothing is signed or required.
/// </summary>
public sealed class CheckpointSigning
{
    public const int MinimumKeyLength = 32;

    /// <summary>A hex SHA-256 (64 characters) and a line end, with room to spare.</summary>
    private const int MaxSignatureBytes = 128;

    public static readonly CheckpointSigning None = new(null);

    private readonly byte[]? key;

    private CheckpointSigning(byte[]? key) => this.key = key;

    /// <summary>Whether checkpoints are signed on publish and required to verify on read.</summary>
    public bool Enabled => key is not null;

    /// <summary>The key as configured (text, at least <see cref="MinimumKeyLength"/> characters; its UTF-8 bytes are the HMAC key).</summary>
    public static CheckpointSigning WithKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < MinimumKeyLength)
        {
            throw new ArgumentException($"a checkpoint signing key needs at least {MinimumKeyLength} characters", nameof(key));
        }

        return new CheckpointSigning(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>From the options: <see cref="None"/> when no key is configured.</summary>
    public static CheckpointSigning From(CheckpointStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var key = options.ResolveSigningKey();
        return key.Length == 0 ? None : WithKey(key);
    }

    /// <summary>The signature file's content for <paramref name="manifest"/>; null when signing is off.</summary>
    internal byte[]? Sign(ReadOnlySpan<byte> manifest) =>
        key is null ? null : Encoding.ASCII.GetBytes(Convert.ToHexStringLower(HMACSHA256.HashData(key, manifest)));

    /// <summary>Refuses <paramref name="folder"/> unless its signature matches <paramref name="manifest"/> (no-op when signing is off).</summary>
    internal void Check(string folder, ReadOnlySpan<byte> manifest)
    {
        if (key is null)
        {
            return;
        }

        var path = Path.Combine(folder, CheckpointFiles.Signature);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Signature} is missing: checkpoints must be signed with this deployment's signing key");
        }

        // One hex digest (and a line end): a link is refused unread, so that a hostile writer cannot
        // make the reader follow it; so are an empty file, a pipe or device, a larger file.
        byte[]? bytes;
        try
        {
            bytes = info.LinkTarget is null ? CheckpointFiles.ReadSmall(info, MaxSignatureBytes) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Signature} is unreadable ({ex.Message})", ex);
        }

        if (bytes is null)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Signature} is not a signature file");
        }

        var presented = bytes.AsSpan().Trim("\r\n "u8);
        var expected = Sign(manifest)!;
        if (!CryptographicOperations.FixedTimeEquals(presented, expected))
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Signature} does not match {CheckpointFiles.Manifest}: not signed with this deployment's key (forged, altered, or signed with another key)");
        }
    }
}
