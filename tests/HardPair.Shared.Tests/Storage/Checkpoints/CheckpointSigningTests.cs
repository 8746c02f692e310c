using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Storage.Checkpoints;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class CheckpointSigningTests : IDisposable
{
    private const string Key = "trainer-and-inference-share-this-key-0123456789";
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Publish_ToASignedStore_SignsWhatItWrites_AndReadsItBack()
    {
        var store = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(Key));
        var published = Publish(store);

        var folder = temp.Combine(published.Version);
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Key), File.ReadAllBytes(Path.Combine(folder, CheckpointFiles.Manifest))));
        Assert.Equal(expected, File.ReadAllText(Path.Combine(folder, CheckpointFiles.Signature)));
        Assert.Equal(published.Version, store.Latest()?.Version);
        using var loaded = store.Load(published.Version);
        Assert.Equal(published.WeightsSha256, loaded.Manifest.WeightsSha256);
    }

    [Fact]
    public void Verify_UnsignedForgedOrAlteredCheckpoints_AreRefusedWithTheReason()
    {
        var signed = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(Key));
        var good = Publish(signed);

        // Someone with write access to the volume but not the key: an unsigned checkpoint, one
        // signed with another key, and the good one's manifest altered (weights and digest
        // swapped consistently, so only the signature can tell).
        var unsigned = Publish(new CheckpointStore(temp.Path, TimeProvider.System));
        var forged = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(new string('x', 40))));
        var altered = temp.Combine("v29990101T000000000Z-altered0");
        Directory.CreateDirectory(altered);
        File.Copy(temp.Combine(good.Version, CheckpointFiles.Signature), Path.Combine(altered, CheckpointFiles.Signature));
        var weights = File.ReadAllBytes(temp.Combine(unsigned.Version, CheckpointFiles.Weights));
        File.WriteAllBytes(Path.Combine(altered, CheckpointFiles.Weights), weights);
        File.WriteAllText(
            Path.Combine(altered, CheckpointFiles.Manifest),
            File.ReadAllText(temp.Combine(good.Version, CheckpointFiles.Manifest))
                .Replace(good.Version, Path.GetFileName(altered), StringComparison.Ordinal)
                .Replace(good.WeightsSha256, Convert.ToHexStringLower(SHA256.HashData(weights)), StringComparison.Ordinal));

        var listed = signed.List(verifyWeights: true).ToDictionary(e => e.Version);
        Assert.True(listed[good.Version].IsValid);
        Assert.Contains("manifest.sig is missing", listed[unsigned.Version].Fault, StringComparison.Ordinal);
        Assert.Contains("not signed with this deployment's key", listed[forged.Version].Fault, StringComparison.Ordinal);
        Assert.Contains("not signed with this deployment's key", listed[Path.GetFileName(altered)].Fault, StringComparison.Ordinal);
        Assert.Equal(good.Version, signed.Latest()?.Version);
        var refused = Assert.Throws<CheckpointException>(() => CheckpointLoader.Load(altered, signing: CheckpointSigning.WithKey(Key)));
        Assert.Contains(CheckpointFiles.Signature, refused.Message, StringComparison.Ordinal);

        // Without a key nothing is required: the unsigned and the forged one read fine.
        var open = new CheckpointStore(temp.Path, TimeProvider.System).List(verifyWeights: true).ToDictionary(e => e.Version);
        Assert.True(open[unsigned.Version].IsValid);
        Assert.True(open[forged.Version].IsValid);
    }

    [Fact]
    public void Seed_ASignedStore_SignsTheTrustedBootstrapCopies()
    {
        var source = new CheckpointStore(temp.Combine("bootstrap"), TimeProvider.System);
        var seed = Publish(source);
        var store = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(Key));

        Assert.Equal([seed.Version], store.SeedFrom(source.Root));
        Assert.True(File.Exists(temp.Combine("store", seed.Version, CheckpointFiles.Signature)));
        Assert.Equal(seed.Version, store.Latest()?.Version);
    }

    [Fact]
    public void Seed_AfterAKeyRotation_SetsStaleVersionsAside_AndServesTheBootstrap()
    {
        var source = new CheckpointStore(temp.Combine("bootstrap"), TimeProvider.System);
        var seed = Publish(source);
        var old = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(new string('o', 40)));
        Assert.Equal([seed.Version], old.SeedFrom(source.Root));
        var trained = Publish(old);

        // The key is rotated: every stored version (the seed included) is now unsigned for the store.
        var rotated = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(Key));
        Assert.Equal([seed.Version], rotated.SeedFrom(source.Root));

        Assert.Equal(seed.Version, rotated.Latest()?.Version);
        var asideNames = Directory.GetDirectories(temp.Combine("store", CheckpointStore.SetAsideFolder)).Select(Path.GetFileName).ToList();
        Assert.Contains(asideNames, name => name!.StartsWith(seed.Version + ".", StringComparison.Ordinal));
        Assert.False(rotated.List().Single(e => e.Version == trained.Version).IsValid);
    }

    [Fact]
    public void Verify_ASignatureFileTooLarge_IsRefusedUnread()
    {
        var store = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(Key));
        var published = Publish(store);
        File.WriteAllBytes(temp.Combine(published.Version, CheckpointFiles.Signature), new byte[1 << 20]);

        Assert.Contains("not a signature file", Assert.Single(store.List()).Fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_ANamedPipeForASignature_IsRefusedWithoutBlockingTheScan()
    {
        var store = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(Key));
        var published = Publish(store);
        var signature = temp.Combine(published.Version, CheckpointFiles.Signature);
        File.Delete(signature);
        CheckpointVerificationTests.MakeFifo(signature);

        // A scan that opened the pipe would never return: TimeoutException.
        var listed = await Task.Run(() => store.List()).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("not a signature file", Assert.Single(listed).Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_AShortKeyOrAMissingKeyFile_AreRefused()
    {
        static IEnumerable<string?> Errors(CheckpointStoreOptions options) =>
            options.Validate(new ValidationContext(options)).Select(r => r.ErrorMessage);

        Assert.Empty(Errors(new CheckpointStoreOptions()));
        Assert.Empty(Errors(new CheckpointStoreOptions { SigningKey = Key }));
        Assert.Contains("at least 32 characters", Assert.Single(Errors(new CheckpointStoreOptions { SigningKey = "short" })), StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Single(Errors(new CheckpointStoreOptions { SigningKeyFile = temp.Combine("missing") })), StringComparison.Ordinal);
        File.WriteAllText(temp.Combine("key"), Key + "\n");
        Assert.True(CheckpointSigning.From(new CheckpointStoreOptions { SigningKeyFile = temp.Combine("key") }).Enabled);
        Assert.False(CheckpointSigning.From(new CheckpointStoreOptions()).Enabled);
    }

    [Fact]
    public void Signing_AnEcdsaPrivateKey_Signs_AndItsPublicKeyOnlyVerifies()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var trainer = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem()));
        var inference = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportSubjectPublicKeyInfoPem()));
        var published = Publish(trainer);

        var signature = File.ReadAllText(temp.Combine(published.Version, CheckpointFiles.Signature));
        Assert.StartsWith("ecdsa-p256-sha256:", signature, StringComparison.Ordinal);
        Assert.True(key.VerifyData(
            File.ReadAllBytes(temp.Combine(published.Version, CheckpointFiles.Manifest)),
            Convert.FromBase64String(signature["ecdsa-p256-sha256:".Length..]),
            HashAlgorithmName.SHA256,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.Equal(published.Version, inference.Latest()?.Version);
        using (var loaded = inference.Load(published.Version))
        {
            Assert.Equal(published.WeightsSha256, loaded.Manifest.WeightsSha256);
        }

        // The serving side holds no signing key: it cannot publish, so it cannot forge.
        Assert.False(inference.Signing.CanSign);
        var refused = Assert.Throws<CheckpointException>(() => Publish(inference));
        Assert.Contains("publishing needs the private key", refused.Message, StringComparison.Ordinal);
        Assert.Single(inference.List());
    }

    [Fact]
    public void Verify_EcdsaSignaturesFromAnotherKeyAlteredOrInTheHmacFormat_AreRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var good = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem())));
        var forged = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(other.ExportECPrivateKeyPem())));
        var hmac = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(Key)));
        var tampered = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem())));
        var tamperedSignature = temp.Combine(tampered.Version, CheckpointFiles.Signature);
        var text = File.ReadAllText(tamperedSignature).ToCharArray();
        text[30] = text[30] == 'A' ? 'B' : 'A';
        File.WriteAllText(tamperedSignature, new string(text));

        var verifier = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportSubjectPublicKeyInfoPem()));
        var listed = verifier.List(verifyWeights: true).ToDictionary(e => e.Version);

        Assert.True(listed[good.Version].IsValid);
        foreach (var bad in new[] { forged, hmac, tampered })
        {
            Assert.Contains("not signed with this deployment's key", listed[bad.Version].Fault, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Verify_DuringAKeyRotation_TrustsTheOldAndTheNewPublicKey_WhileTheTrainerSwitches()
    {
        using var old = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var current = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var before = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(old.ExportPkcs8PrivateKeyPem())));

        // The trainer signs with the new private key and still verifies what the old one signed.
        var trainer = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(current.ExportPkcs8PrivateKeyPem() + "\n" + old.ExportSubjectPublicKeyInfoPem()));
        var after = Publish(trainer);
        var during = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(old.ExportSubjectPublicKeyInfoPem() + "\n" + current.ExportSubjectPublicKeyInfoPem()));
        var afterwards = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(current.ExportSubjectPublicKeyInfoPem()));

        Assert.All(trainer.List(), e => Assert.True(e.IsValid, e.Fault));
        Assert.All(during.List(), e => Assert.True(e.IsValid, e.Fault));
        Assert.False(during.Signing.CanSign);
        Assert.Equal(after.Version, during.Latest()?.Version);
        Assert.Contains("not signed with this deployment's key", afterwards.List().Single(e => e.Version == before.Version).Fault, StringComparison.Ordinal);
        Assert.Equal(after.Version, afterwards.Latest()?.Version);
        var twoSigners = Assert.Throws<SigningKeyException>(() => CheckpointSigning.WithKey(old.ExportPkcs8PrivateKeyPem() + "\n" + current.ExportPkcs8PrivateKeyPem()));
        Assert.Contains("at most one private key", twoSigners.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_AVersionThatVerifiedOnce_IsRefusedWhenItsSignatureOrManifestChangesAfterwards()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var verifier = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportSubjectPublicKeyInfoPem()));
        var good = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem())));
        var forged = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(other.ExportPkcs8PrivateKeyPem())));
        Assert.True(verifier.List().Single(e => e.Version == good.Version).IsValid);
        Assert.Equal(good.Version, verifier.Latest()?.Version);

        // The verifications it remembers are of this manifest with this signature, nothing else.
        File.Copy(temp.Combine(forged.Version, CheckpointFiles.Signature), temp.Combine(good.Version, CheckpointFiles.Signature), overwrite: true);
        Assert.Contains("not signed with this deployment's key", verifier.List().Single(e => e.Version == good.Version).Fault, StringComparison.Ordinal);

        var again = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem())));
        Assert.True(verifier.List().Single(e => e.Version == again.Version).IsValid);
        var manifest = temp.Combine(again.Version, CheckpointFiles.Manifest);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"method\": \"none\"", "\"method\": \"spat\"", StringComparison.Ordinal));
        Assert.Contains("not signed with this deployment's key", verifier.List().Single(e => e.Version == again.Version).Fault, StringComparison.Ordinal);
    }

    [Fact]
    public void Signing_ACertificate_VerifiesLikeThePublicKeyItHolds()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=hardpair-checkpoints", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));
        var published = Publish(new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem())));

        var signing = CheckpointSigning.WithKey(certificate.ExportCertificatePem());

        Assert.False(signing.CanSign);
        Assert.Equal(published.Version, new CheckpointStore(temp.Path, TimeProvider.System, signing).Latest()?.Version);
    }

    [Fact]
    public void Seed_WithAVerifyOnlyKey_ServesTheBootstrapUnsigned_AndTheTrainerTrustsItToo()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var source = new CheckpointStore(temp.Combine("bootstrap"), TimeProvider.System);
        var seed = Publish(source);
        var inference = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(key.ExportSubjectPublicKeyInfoPem()).TrustingSeed(source.Root));
        var trainer = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem()).TrustingSeed(source.Root));

        Assert.Equal([seed.Version], inference.SeedFrom(source.Root));

        Assert.False(File.Exists(temp.Combine("store", seed.Version, CheckpointFiles.Signature)));
        Assert.Equal(seed.Version, inference.Latest()?.Version);
        Assert.Equal(seed.Version, trainer.Serving()?.Version);

        // Trust is for the seed's manifests byte for byte: the bootstrap's weights under another
        // manifest (here: another version name) are not trusted, and unsigned they are refused.
        var copy = temp.Combine("store", "v29990101T000000000Z-copied00");
        Directory.CreateDirectory(copy);
        File.Copy(temp.Combine("store", seed.Version, CheckpointFiles.Weights), Path.Combine(copy, CheckpointFiles.Weights));
        File.WriteAllText(
            Path.Combine(copy, CheckpointFiles.Manifest),
            File.ReadAllText(temp.Combine("store", seed.Version, CheckpointFiles.Manifest)).Replace(seed.Version, "v29990101T000000000Z-copied00", StringComparison.Ordinal));
        Assert.Contains("manifest.sig is missing", inference.List().Single(e => e.Version == "v29990101T000000000Z-copied00").Fault, StringComparison.Ordinal);
        Assert.Equal(seed.Version, inference.Latest()?.Version);
    }

    [Fact]
    public void Seed_WithAVerifyOnlyKey_RefusesCopiesItWouldNotTrust()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var source = new CheckpointStore(temp.Combine("bootstrap"), TimeProvider.System);
        Publish(source);
        var inference = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(key.ExportSubjectPublicKeyInfoPem()));

        var refused = Assert.Throws<CheckpointException>(() => inference.SeedFrom(source.Root));

        Assert.Contains("Checkpoints:SeedFrom", refused.Message, StringComparison.Ordinal);
        Assert.Empty(inference.List());
    }

    [Fact]
    public void Options_PemKeysThatAreNotEcdsaP256_AreRefused()
    {
        static IEnumerable<string?> Errors(string key) =>
            new CheckpointStoreOptions { SigningKey = key }.Validate(new ValidationContext(new object())).Select(r => r.ErrorMessage);

        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);

        Assert.Empty(Errors(p256.ExportPkcs8PrivateKeyPem()));
        Assert.Empty(Errors(p256.ExportSubjectPublicKeyInfoPem()));
        Assert.Contains("P-256", Assert.Single(Errors(p384.ExportPkcs8PrivateKeyPem())), StringComparison.Ordinal);
        Assert.Contains("not a readable ECDSA key", Assert.Single(Errors(rsa.ExportSubjectPublicKeyInfoPem())), StringComparison.Ordinal);
        Assert.Contains("encrypted", Assert.Single(Errors(p256.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000)))), StringComparison.Ordinal);
        Assert.Contains("no readable PEM block", Assert.Single(Errors("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n")), StringComparison.Ordinal);
    }

    private static CheckpointManifest Publish(CheckpointStore store)
    {
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        return store.Publish(model, TestCheckpoints.Draft());
    }
}
