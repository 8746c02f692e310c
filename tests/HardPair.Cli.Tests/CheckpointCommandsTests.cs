using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.Cli.Tests;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class CheckpointCommandsTests : IDisposable
{
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public void List_StoreWithGoodAndTamperedVersions_ShowsEachStateAndFails()
    {
        var good = Publish();
        var tampered = Publish();
        File.AppendAllText(Path.Combine(store.Path, tampered, CheckpointFiles.Weights), "x");

        var (code, output, error) = Run("checkpoints", "list", "--store", store.Path, "--verify");

        Assert.Equal(CliApp.Failed, code);
        Assert.Empty(error);
        Assert.Contains(output.Split('\n'), line => line.StartsWith(good, StringComparison.Ordinal) && line.TrimEnd().EndsWith("verified", StringComparison.Ordinal));
        Assert.Contains(output.Split('\n'), line => line.StartsWith(tampered, StringComparison.Ordinal) && line.Contains("refused: model.bin is", StringComparison.Ordinal));
    }

    [Fact]
    public void List_WithTheSigningKey_ChecksSignaturesAsTheServiceDoes()
    {
        const string Key = "the-deployment-signing-key-0123456789abcdef";
        var keyFile = store.Combine("..", $"{Path.GetFileName(store.Path)}.key");
        File.WriteAllText(keyFile, Key + "\n");
        try
        {
            var signed = new CheckpointStore(store.Path, TimeProvider.System, CheckpointSigning.WithKey(Key));
            using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
            var good = signed.Publish(model, TestCheckpoints.Draft()).Version;
            var forged = signed.Publish(model, TestCheckpoints.Draft()).Version;
            File.WriteAllText(Path.Combine(store.Path, forged, CheckpointFiles.Signature), new string('0', 64));

            var (uncheckedCode, uncheckedOutput, _) = Run("checkpoints", "list", "--store", store.Path);
            var (code, output, error) = Run("checkpoints", "list", "--store", store.Path, "--signing-key-file", keyFile);
            var (showCode, _, showError) = Run("checkpoints", "show", Path.Combine(store.Path, forged), "--signing-key-file", keyFile);

            Assert.Equal(CliApp.Ok, uncheckedCode);
            Assert.Equal(2, uncheckedOutput.Split('\n').Count(line => line.TrimEnd().EndsWith("ok (signature not checked: no --signing-key-file)", StringComparison.Ordinal)));
            Assert.Equal(CliApp.Failed, code);
            Assert.Empty(error);
            Assert.Contains(output.Split('\n'), line => line.StartsWith(good, StringComparison.Ordinal) && line.TrimEnd().EndsWith("ok, signed", StringComparison.Ordinal));
            Assert.Contains(output.Split('\n'), line => line.StartsWith(forged, StringComparison.Ordinal) && line.Contains("refused: manifest.sig does not match", StringComparison.Ordinal));
            Assert.Equal(CliApp.Failed, showCode);
            Assert.Contains("manifest.sig does not match", showError, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Fact]
    public void List_WithTheEcdsaPublicKeyAndTheSeedFolder_ChecksAsAVerifyOnlyServiceDoes()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        using var seed = new TempDirectory();
        using var keys = new TempDirectory();
        var publicKey = keys.Combine("verification.pem");
        File.WriteAllText(publicKey, key.ExportSubjectPublicKeyInfoPem());
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var bootstrap = new CheckpointStore(seed.Path, TimeProvider.System).Publish(model, TestCheckpoints.Draft()).Version;
        var verifier = new CheckpointStore(store.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportSubjectPublicKeyInfoPem()).TrustingSeed(seed.Path));
        verifier.SeedFrom(seed.Path);
        var trained = new CheckpointStore(store.Path, TimeProvider.System, CheckpointSigning.WithKey(key.ExportPkcs8PrivateKeyPem())).Publish(model, TestCheckpoints.Draft()).Version;

        var (code, output, _) = Run("checkpoints", "list", "--store", store.Path, "--signing-key-file", publicKey, "--seed-from", seed.Path);
        var (withoutSeedCode, withoutSeed, _) = Run("checkpoints", "list", "--store", store.Path, "--signing-key-file", publicKey);

        Assert.Equal(CliApp.Ok, code);
        Assert.Contains(output.Split('\n'), line => line.StartsWith(bootstrap, StringComparison.Ordinal) && line.TrimEnd().EndsWith("ok, bootstrap copy (trusted unsigned, from --seed-from)", StringComparison.Ordinal));
        Assert.Contains(output.Split('\n'), line => line.StartsWith(trained, StringComparison.Ordinal) && line.TrimEnd().EndsWith("ok, signed", StringComparison.Ordinal));
        Assert.Equal(CliApp.Failed, withoutSeedCode);
        Assert.Contains(withoutSeed.Split('\n'), line => line.StartsWith(bootstrap, StringComparison.Ordinal) && line.Contains("refused: manifest.sig is missing", StringComparison.Ordinal));
    }

    [Fact]
    public void List_PinnedStore_MarksThePinnedVersion()
    {
        var older = Publish();
        var newer = Publish();
        new CheckpointStore(store.Path, TimeProvider.System).WritePin(older);

        var (code, output, _) = Run("checkpoints", "list", "--store", store.Path);

        Assert.Equal(CliApp.Ok, code);
        Assert.Contains(output.Split('\n'), line => line.StartsWith(older, StringComparison.Ordinal) && line.TrimEnd().EndsWith("ok, pinned", StringComparison.Ordinal));
        Assert.Contains(output.Split('\n'), line => line.StartsWith(newer, StringComparison.Ordinal) && line.TrimEnd().EndsWith("ok", StringComparison.Ordinal));
    }

    [Fact]
    public void Show_VerifiedFolder_PrintsTheManifest()
    {
        var version = Publish();

        var (code, output, _) = Run("checkpoints", "show", Path.Combine(store.Path, version));

        Assert.Equal(CliApp.Ok, code);
        Assert.Contains($"\"version\": \"{version}\"", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Card_VerifiedFolder_PrintsItsModelCard_AndATamperedOneIsRefused()
    {
        var version = Publish();

        var (code, output, _) = Run("checkpoints", "card", Path.Combine(store.Path, version));

        Assert.Equal(CliApp.Ok, code);
        Assert.StartsWith($"# Model card: {version}", output, StringComparison.Ordinal);
        Assert.Contains("## What \"robust\" means here", output, StringComparison.Ordinal);

        File.AppendAllText(Path.Combine(store.Path, version, CheckpointFiles.Weights), "x");
        var (refused, _, error) = Run("checkpoints", "card", Path.Combine(store.Path, version));
        Assert.Equal(CliApp.Failed, refused);
        Assert.Contains("truncated or replaced", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short", "a checkpoint signing key needs at least 32 characters (it has 5), or a PEM ECDSA P-256 key")]
    [InlineData("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "a PEM checkpoint signing key must be PRIVATE KEY, EC PRIVATE KEY, PUBLIC KEY or CERTIFICATE, not ENCRYPTED PRIVATE KEY (an encrypted key is not supported)")]
    public void List_WithAKeyThatCannotBeUsed_SaysWhyInOneLine(string key, string why)
    {
        using var keys = new TempDirectory();
        var keyFile = keys.Combine("signing.key");
        File.WriteAllText(keyFile, key);

        var (code, _, error) = Run("checkpoints", "list", "--store", store.Path, "--signing-key-file", keyFile);

        Assert.Equal(CliApp.Usage, code);
        Assert.Equal($"hardpair: signing key file {keyFile}: {why}", error.TrimEnd());
    }

    [Theory]
    [InlineData(new[] { "checkpoints", "list" }, "hardpair: --store is required")]
    [InlineData(new[] { "checkpoints", "list", "--store", "x", "--verfy" }, "hardpair: unknown option --verfy")]
    [InlineData(new[] { "models" }, "hardpair: unknown command 'models' (try hardpair --help)")]
    [InlineData(new[] { "checkpoints", "list", "--store", "x", "--signing-key-file", "/nonexistent/key" }, "hardpair: signing key file /nonexistent/key does not exist")]
    public void Run_BadCommandLine_PrintsOneLineAndUsageExitCode(string[] args, string message)
    {
        var (code, _, error) = Run(args);

        Assert.Equal(CliApp.Usage, code);
        Assert.Equal(message, error.TrimEnd());
    }

    [Fact]
    public void Show_MissingFolder_PrintsTheFault()
    {
        var (code, _, error) = Run("checkpoints", "show", store.Combine("nope"));

        Assert.Equal(CliApp.Failed, code);
        Assert.Equal($"hardpair: checkpoint {store.Combine("nope")}: manifest.json is missing", error.TrimEnd());
    }

    private string Publish()
    {
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        return new CheckpointStore(store.Path, TimeProvider.System).Publish(model, TestCheckpoints.Draft()).Version;
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
