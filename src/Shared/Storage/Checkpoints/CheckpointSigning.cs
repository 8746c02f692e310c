using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace HardPair.Storage.Checkpoints;

/// <summary>
/// Checkpoint signatures. <c>manifest.sig</c> signs <c>manifest.json</c>'s exact bytes; the
/// manifest names the weights' SHA-256, so one signature covers both files. Two kinds, chosen by
/// the key itself:
/// <list type="bullet">
/// <item><b>ECDSA P-256</b> (a PEM key): the trainer holds the private key and signs; the inference
/// service holds only the public key (<c>PUBLIC KEY</c> or a <c>CERTIFICATE</c>) and can verify but
/// never sign, so a compromised serving container cannot forge a checkpoint. The signature is
/// <c>ecdsa-p256-sha256:</c> and the base64 of r‖s. A PEM file may hold several keys: a
/// signature verifies if any of them accepts it (a rotation: the service trusts the old and the
/// new public key while the trainer switches to the new private key), and at most one private
/// key, which signs.</item>
/// <item><b>HMAC-SHA256</b> (any other text of at least <see cref="MinimumKeyLength"/> characters):
/// one key shared by both, which therefore can both sign. The signature is the lowercase hex HMAC.</item>
/// </list>
/// The image's bootstrap folder (<see cref="TrustingSeed"/>) is trusted content: a version whose
/// manifest is byte for byte one of its manifests verifies without a signature, which is how a
/// verify-only inference service serves the bootstrap copies it seeds. Without a key
/// (<see cref="None"/>) nothing is signed or required.
/// </summary>
public sealed class CheckpointSigning
{
    public const int MinimumKeyLength = 32;

    private const string EcdsaPrefix = "ecdsa-p256-sha256:";

    // ASN.1 OID of NIST P-256 (secp256r1): the one curve accepted, so signatures have one size.
    private const string P256 = "1.2.840.10045.3.1.7";

    /// <summary>The longer signature (the ECDSA prefix and 88 base64 characters) and a line end, with room to spare.</summary>
    private const int MaxSignatureBytes = 128;

    /// <summary>Remembered verifications before the memory starts over (a store holds far fewer versions).</summary>
    private const int MaxRemembered = 4096;

    public static readonly CheckpointSigning None = new(null, null, [], []);

    private readonly byte[]? hmacKey;
    private readonly ECDsa? signer;
    private readonly IReadOnlyList<ECDsa> verifiers;
    private readonly HashSet<string> trustedManifests;
    private readonly Lock ecdsaGate = new();

    // Manifest digest and signature pairs that verified. Every store scan (each refresh of the
    // service, each trainer status) checks every version again; an ECDSA verification costs ~70 µs
    // where hashing the manifest costs ~3, and a pair that verified once always will.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> verified = new(StringComparer.Ordinal);

    private CheckpointSigning(byte[]? hmacKey, ECDsa? signer, IReadOnlyList<ECDsa> verifiers, HashSet<string> trustedManifests)
    {
        this.hmacKey = hmacKey;
        this.signer = signer;
        this.verifiers = verifiers;
        this.trustedManifests = trustedManifests;
    }

    /// <summary>Whether checkpoints are required to verify on read (and, where the key can, signed on publish).</summary>
    public bool Enabled => hmacKey is not null || verifiers.Count > 0;

    /// <summary>Whether this key can sign: an HMAC key or an ECDSA private key; a public key only verifies.</summary>
    public bool CanSign => hmacKey is not null || signer is not null;

    /// <summary>What kind of key this is, for logs and the CLI.</summary>
    public string Kind =>
        hmacKey is not null ? "HMAC-SHA256"
        : verifiers.Count == 0 ? "none"
        : signer is not null ? $"ECDSA P-256 private key{(verifiers.Count > 1 ? $" and {verifiers.Count - 1} more public key(s)" : "")}"
        : $"ECDSA P-256 public key{(verifiers.Count > 1 ? $"s ({verifiers.Count})" : "")} (verifies only)";

    /// <summary>
    /// The key as configured: a PEM ECDSA P-256 key (<c>PRIVATE KEY</c>, <c>EC PRIVATE KEY</c>,
    /// <c>PUBLIC KEY</c> or <c>CERTIFICATE</c>), or an HMAC key — text of at least
    /// <see cref="MinimumKeyLength"/> characters whose UTF-8 bytes are the key. A key that cannot be
    /// used is a <see cref="SigningKeyException"/> saying why.
    /// </summary>
    public static CheckpointSigning WithKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Contains("-----BEGIN ", StringComparison.Ordinal))
        {
            return WithPem(key);
        }

        if (key.Length < MinimumKeyLength)
        {
            throw new SigningKeyException($"a checkpoint signing key needs at least {MinimumKeyLength} characters (it has {key.Length}), or a PEM ECDSA P-256 key");
        }

        return new CheckpointSigning(Encoding.UTF8.GetBytes(key), null, [], []);
    }

    /// <summary>From the options: <see cref="None"/> when no key is configured; the seed folder's versions trusted either way.</summary>
    public static CheckpointSigning From(CheckpointStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var key = options.ResolveSigningKey();
        var signing = key.Length == 0 ? None : WithKey(key);
        return string.IsNullOrWhiteSpace(options.SeedFrom) ? signing : signing.TrustingSeed(options.SeedFrom);
    }

    /// <summary>
    /// The same key, also trusting every valid version in <paramref name="seedFolder"/> (the
    /// image's bootstrap checkpoints: part of the software, not of the writable volume). A
    /// missing folder adds nothing.
    /// </summary>
    public CheckpointSigning TrustingSeed(string seedFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(seedFolder);
        if (!Enabled || !Directory.Exists(seedFolder))
        {
            return this;
        }

        var trusted = new HashSet<string>(trustedManifests, StringComparer.Ordinal);
        foreach (var entry in new CheckpointStore(seedFolder, TimeProvider.System).List(verifyWeights: true).Where(e => e.IsValid))
        {
            trusted.Add(ManifestDigest(File.ReadAllBytes(Path.Combine(entry.Folder, CheckpointFiles.Manifest))));
        }

        return new CheckpointSigning(hmacKey, signer, verifiers, trusted);
    }

    /// <summary>Whether <paramref name="manifest"/> is one of the trusted seed folder's, byte for byte.</summary>
    internal bool Trusts(ReadOnlySpan<byte> manifest) => trustedManifests.Count > 0 && trustedManifests.Contains(ManifestDigest(manifest));

    /// <summary>The signature file's content for <paramref name="manifest"/>; null when this key cannot sign (or there is none).</summary>
    internal byte[]? Sign(ReadOnlySpan<byte> manifest)
    {
        if (hmacKey is not null)
        {
            return Encoding.ASCII.GetBytes(Convert.ToHexStringLower(HMACSHA256.HashData(hmacKey, manifest)));
        }

        if (signer is null)
        {
            return null;
        }

        lock (ecdsaGate)
        {
            return Encoding.ASCII.GetBytes(EcdsaPrefix + Convert.ToBase64String(signer.SignData(manifest, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)));
        }
    }

    /// <summary>Refuses <paramref name="folder"/> unless its signature matches <paramref name="manifest"/> (no-op when signing is off).</summary>
    internal void Check(string folder, ReadOnlySpan<byte> manifest)
    {
        if (!Enabled)
        {
            return;
        }

        var digest = ManifestDigest(manifest);
        if (trustedManifests.Contains(digest))
        {
            return;
        }

        var path = Path.Combine(folder, CheckpointFiles.Signature);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Signature} is missing: checkpoints must be signed with this deployment's signing key");
        }

        // One signature (and a line end): a link is refused unread, so that a hostile writer cannot
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
        var pair = $"{digest}:{Convert.ToHexStringLower(presented)}";
        if (verified.ContainsKey(pair))
        {
            return;
        }

        if (!Verifies(presented, manifest))
        {
            throw new CheckpointException(folder, $"{CheckpointFiles.Signature} does not match {CheckpointFiles.Manifest}: not signed with this deployment's key (forged, altered, or signed with another key)");
        }

        if (verified.Count >= MaxRemembered)
        {
            verified.Clear();
        }

        verified[pair] = true;
    }

    private bool Verifies(ReadOnlySpan<byte> presented, ReadOnlySpan<byte> manifest)
    {
        if (hmacKey is not null)
        {
            return CryptographicOperations.FixedTimeEquals(presented, Sign(manifest)!);
        }

        var prefix = Encoding.ASCII.GetBytes(EcdsaPrefix);
        if (!presented.StartsWith(prefix))
        {
            return false;
        }

        Span<byte> signature = stackalloc byte[MaxSignatureBytes];
        if (!Convert.TryFromBase64Chars(Encoding.ASCII.GetString(presented[prefix.Length..]), signature, out var length))
        {
            return false;
        }

        lock (ecdsaGate)
        {
            foreach (var verifier in verifiers)
            {
                if (verifier.VerifyData(manifest, signature[..length], HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Every PEM block of <paramref name="pem"/>: at most one private key (which signs) and any number of public keys or certificates.</summary>
    private static CheckpointSigning WithPem(string pem)
    {
        ECDsa? signer = null;
        var verifiers = new List<ECDsa>();
        try
        {
            var rest = pem.AsMemory();
            while (PemEncoding.TryFind(rest.Span, out var fields))
            {
                var block = rest.Span[fields.Location].ToString();
                var label = rest.Span[fields.Label].ToString();
                rest = rest[fields.Location.End..];
                var (key, isPrivate) = ReadKey(block, label);
                if (isPrivate && signer is not null)
                {
                    key.Dispose();
                    throw new SigningKeyException("a checkpoint signing key file holds at most one private key");
                }

                signer = isPrivate ? key : signer;
                verifiers.Add(key);
            }
        }
        catch
        {
            verifiers.ForEach(v => v.Dispose());
            throw;
        }

        return verifiers.Count == 0
            ? throw new SigningKeyException("the checkpoint signing key looks like PEM but holds no readable PEM block")
            : new CheckpointSigning(null, signer, verifiers, []);
    }

    private static (ECDsa Key, bool IsPrivate) ReadKey(string block, string label)
    {
        ECDsa key;
        var isPrivate = false;
        try
        {
            switch (label)
            {
                case "PRIVATE KEY" or "EC PRIVATE KEY" or "PUBLIC KEY":
                    key = ECDsa.Create();
                    key.ImportFromPem(block);
                    isPrivate = label != "PUBLIC KEY";
                    break;
                case "CERTIFICATE":
                    using (var certificate = X509Certificate2.CreateFromPem(block))
                    {
                        key = certificate.GetECDsaPublicKey() ?? throw new SigningKeyException("a checkpoint signing certificate does not hold an ECDSA key");
                    }

                    break;
                default:
                    throw new SigningKeyException($"a PEM checkpoint signing key must be PRIVATE KEY, EC PRIVATE KEY, PUBLIC KEY or CERTIFICATE, not {label} (an encrypted key is not supported)");
            }
        }
        catch (CryptographicException ex)
        {
            throw new SigningKeyException($"the PEM checkpoint signing key ({label}) is not a readable ECDSA key: {ex.Message}", ex);
        }

        if (!IsP256(key.ExportParameters(false).Curve))
        {
            key.Dispose();
            throw new SigningKeyException("a PEM checkpoint signing key must be on the NIST P-256 curve");
        }

        return (key, isPrivate);
    }

    private static bool IsP256(ECCurve curve) =>
        curve.IsNamed && (curve.Oid.Value == P256 || curve.Oid.FriendlyName is "nistP256" or "ECDSA_P256" or "secp256r1" or "prime256v1");

    private static string ManifestDigest(ReadOnlySpan<byte> manifest) => Convert.ToHexStringLower(SHA256.HashData(manifest));
}
