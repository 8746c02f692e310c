using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HardPair.Testing;

/// <summary>
/// A self-signed CA with a server certificate for 127.0.0.1/localhost and a client certificate,
/// plus a client certificate of another (unknown) CA, written as PEM files into a folder.
/// </summary>
public sealed class TestCertificates
{
    private TestCertificates(string folder) => Folder = folder;

    public string Folder { get; }

    public string CaPath => Path.Combine(Folder, "ca.pem");

    public string ServerCertificatePath => Path.Combine(Folder, "server.pem");

    public string ServerKeyPath => Path.Combine(Folder, "server.key");

    public string ClientCertificatePath => Path.Combine(Folder, "client.pem");

    public string ClientKeyPath => Path.Combine(Folder, "client.key");

    /// <summary>A second client of the same CA (another identity from the same address).</summary>
    public string SecondClientCertificatePath => Path.Combine(Folder, "client2.pem");

    public string SecondClientKeyPath => Path.Combine(Folder, "client2.key");

    public string ForeignCertificatePath => Path.Combine(Folder, "foreign.pem");

    public string ForeignKeyPath => Path.Combine(Folder, "foreign.key");

    public static TestCertificates Create(string folder)
    {
        Directory.CreateDirectory(folder);
        var set = new TestCertificates(folder);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = SelfSignedAuthority("CN=HardPair Test CA", caKey);
        File.WriteAllText(set.CaPath, ca.ExportCertificatePem());
        Issue(ca, caKey, "CN=127.0.0.1", server: true, set.ServerCertificatePath, set.ServerKeyPath);
        Issue(ca, caKey, "CN=hardpair-test-client", server: false, set.ClientCertificatePath, set.ClientKeyPath);
        Issue(ca, caKey, "CN=hardpair-test-client-2", server: false, set.SecondClientCertificatePath, set.SecondClientKeyPath);

        using var foreignKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var foreignCa = SelfSignedAuthority("CN=Somebody Else's CA", foreignKey);
        Issue(foreignCa, foreignKey, "CN=intruder", server: false, set.ForeignCertificatePath, set.ForeignKeyPath);
        return set;
    }

    /// <summary>
    /// A client handler that trusts the test CA only (the system roots when <paramref name="trustCa"/>
    /// is false) and presents the given certificate (none when null): the services' own peer handler.
    /// </summary>
    public SocketsHttpHandler Handler(string? certificatePath, string? keyPath, bool trustCa = true) => new HardPair.Hosting.TlsOptions
    {
        CaPath = trustCa ? CaPath : null,
        CertificatePath = certificatePath,
        KeyPath = keyPath,
    }.CreatePeerHandler();

    private static X509Certificate2 SelfSignedAuthority(string subject, ECDsa key)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static void Issue(X509Certificate2 issuer, ECDsa issuerKey, string subject, bool server, string certificatePath, string keyPath)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        // The services' certificate serves and also authenticates their calls to each other.
        var clientAuth = new Oid("1.3.6.1.5.5.7.3.2");
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            server ? [new Oid("1.3.6.1.5.5.7.3.1"), clientAuth] : [clientAuth],
            critical: false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(12);
        using var certificate = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
    }
}
