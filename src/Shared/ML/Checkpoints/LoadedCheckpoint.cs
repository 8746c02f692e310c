using HardPair.Storage.Checkpoints;
using static TorchSharp.torch;

namespace HardPair.ML.Checkpoints;

/// <summary>A verified checkpoint with its network loaded; owns and disposes the network.</summary>
public sealed class LoadedCheckpoint(string folder, CheckpointManifest manifest, nn.Module<Tensor, Tensor> model) : IDisposable
{
    public string Folder { get; } = folder;

    public CheckpointManifest Manifest { get; } = manifest;

    public nn.Module<Tensor, Tensor> Model { get; } = model;

    public void Dispose() => Model.Dispose();
}
