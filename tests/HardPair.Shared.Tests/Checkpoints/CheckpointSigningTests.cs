using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Models;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Checkpoints;

[Collection(TorchCollection.Name)]
public sealed class CheckpointSigningTests : IDisposable
{
    private const string Key = "trainer-and-inference-share-this-key-0123456789";
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void A_signed_store_signs_what_it_publishes_and_reads_it_back()
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
    public void Unsigned_forged_and_altered_checkpoints_are_refused_with_the_reason()
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
        var refused = Assert.Throws<CheckpointException>(() => CheckpointReader.Load(altered, signing: CheckpointSigning.WithKey(Key)));
        Assert.Contains(CheckpointFiles.Signature, refused.Message, StringComparison.Ordinal);

        // Without a key nothing is required: the unsigned and the forged one read fine.
        var open = new CheckpointStore(temp.Path, TimeProvider.System).List(verifyWeights: true).ToDictionary(e => e.Version);
        Assert.True(open[unsigned.Version].IsValid);
        Assert.True(open[forged.Version].IsValid);
    }

    [Fact]
    public void Seeding_a_signed_store_signs_the_trusted_bootstrap_copies()
    {
        var source = new CheckpointStore(temp.Combine("bootstrap"), TimeProvider.System);
        var seed = Publish(source);
        var store = new CheckpointStore(temp.Combine("store"), TimeProvider.System, CheckpointSigning.WithKey(Key));

        Assert.Equal([seed.Version], store.SeedFrom(source.Root));
        Assert.True(File.Exists(temp.Combine("store", seed.Version, CheckpointFiles.Signature)));
        Assert.Equal(seed.Version, store.Latest()?.Version);
    }

    [Fact]
    public void After_a_key_rotation_seeding_sets_the_stale_versions_aside_and_serves_the_bootstrap()
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
    public void A_signature_file_that_is_too_large_is_refused_unread()
    {
        var store = new CheckpointStore(temp.Path, TimeProvider.System, CheckpointSigning.WithKey(Key));
        var published = Publish(store);
        File.WriteAllBytes(temp.Combine(published.Version, CheckpointFiles.Signature), new byte[1 << 20]);

        Assert.Contains("not a signature file", Assert.Single(store.List()).Fault, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_named_pipe_for_a_signature_is_refused_without_blocking_the_scan()
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
    public void Options_refuse_a_short_key_or_a_missing_key_file()
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

    private static CheckpointManifest Publish(CheckpointStore store)
    {
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        return store.Publish(model, TestCheckpoints.Draft());
    }
}
