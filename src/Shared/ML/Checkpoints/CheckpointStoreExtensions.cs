using HardPair.Storage.Checkpoints;
using static TorchSharp.torch;

namespace HardPair.ML.Checkpoints;

/// <summary>What the store does with networks: publishing one's weights, loading a version into one.</summary>
public static class CheckpointStoreExtensions
{
    /// <summary>
    /// Publishes <paramref name="model"/>'s weights with <paramref name="draft"/>'s metadata as a
    /// new version of <paramref name="store"/>; the store sets the version id, creation time and
    /// weight digest.
    /// </summary>
    public static CheckpointManifest Publish(this CheckpointStore store, nn.Module<Tensor, Tensor> model, CheckpointManifest draft)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(model);
        return store.Publish(NetworkWeights.Of(model), draft);
    }

    /// <summary>Verifies and loads one version of <paramref name="store"/> on <paramref name="device"/> (CPU when null).</summary>
    public static LoadedCheckpoint Load(this CheckpointStore store, string version, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        return CheckpointLoader.Load(store.FolderOf(version), device, version, store.Signing);
    }
}
