using System.ComponentModel.DataAnnotations;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HardPair.Hosting;

/// <summary>
/// TLS for a host's gRPC ports, and for the calls it makes to its peer (inference ↔ sidecar).
/// With a certificate, every <c>https://</c> endpoint serves it; with
/// <see cref="RequireClientCertificate"/>, callers must present a certificate that chains to
/// <see cref="CaPath"/> (mutual TLS). Outgoing calls to <c>https://</c> peers trust
/// <see cref="CaPath"/> and present the same certificate. PEM files (Kubernetes TLS Secrets).
/// </summary>
public sealed class TlsOptions : IValidatableObject
{
    public const string SectionName = "Tls";

    private readonly Lock authorityLock = new();
    private X509Certificate2Collection? authorities;

    /// <summary>PEM certificate (chain) this host serves and presents to its peers.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>PEM bundle of the CA certificates that peers' certificates must chain to.</summary>
    public string? CaPath { get; set; }

    /// <summary>Refuse callers without a certificate chaining to <see cref="CaPath"/>.</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>
    /// A plaintext HTTP/2 port, on every interface, that answers <c>grpc.health.v1.Health</c> and
    /// nothing else (any other call there is UNIMPLEMENTED): for the kubelet's gRPC probes, which
    /// cannot speak TLS. 0: none.
    /// </summary>
    [Range(0, 65535)]
    public int HealthPort { get; set; }

    public bool HasCertificate => !string.IsNullOrWhiteSpace(CertificatePath);

    public X509Certificate2 LoadCertificate() => X509Certificate2.CreateFromPemFile(CertificatePath!, KeyPath);

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to one of <see cref="CaPath"/>'s certificates,
    /// is within its validity period and may be used for <paramref name="purpose"/> (extended key
    /// usage: a server certificate does not authenticate a client, nor the other way round); the
    /// system's roots are not consulted. The CA bundle is read once per process.
    /// </summary>
    public bool IsTrusted(X509Certificate2 certificate, KeyPurpose purpose)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (string.IsNullOrWhiteSpace(CaPath))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(Authorities());
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(purpose == KeyPurpose.ServerAuthentication ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"));
        try
        {
            return chain.Build(certificate);
        }
        finally
        {
            // The chain's element certificates are copies the chain does not dispose itself.
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, certificate))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }

    private X509Certificate2Collection Authorities()
    {
        lock (authorityLock)
        {
            if (authorities is null)
            {
                authorities = [];
                authorities.ImportFromPemFile(CaPath!);
            }

            return authorities;
        }
    }

    /// <summary>
    /// The handler for calls to a peer: <c>https://</c> peers must present a certificate for their
    /// host name that chains to <see cref="CaPath"/> (the system's roots when no CA is given); this
    /// host's certificate goes along for mutual TLS.
    /// </summary>
    public SocketsHttpHandler CreatePeerHandler()
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (!string.IsNullOrWhiteSpace(CaPath))
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                certificate is X509Certificate2 presented
                && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0
                && IsTrusted(presented, KeyPurpose.ServerAuthentication);
        }

        if (HasCertificate)
        {
            handler.SslOptions.ClientCertificates = [LoadCertificate()];
        }

        return handler;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var (path, name) in new[] { (CertificatePath, nameof(CertificatePath)), (KeyPath, nameof(KeyPath)), (CaPath, nameof(CaPath)) })
        {
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path))
            {
                yield return new ValidationResult($"{name} '{path}' does not exist.", [name]);
            }
        }

        if (HasCertificate != !string.IsNullOrWhiteSpace(KeyPath))
        {
            yield return new ValidationResult("CertificatePath and KeyPath go together.", [nameof(CertificatePath), nameof(KeyPath)]);
        }

        if (RequireClientCertificate && (!HasCertificate || string.IsNullOrWhiteSpace(CaPath)))
        {
            yield return new ValidationResult("RequireClientCertificate needs CertificatePath, KeyPath and CaPath.", [nameof(RequireClientCertificate)]);
        }
    }
}

/// <summary>What a peer's certificate must be good for.</summary>
public enum KeyPurpose
{
    ServerAuthentication,
    ClientAuthentication,
}
