using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using static TorchSharp.torch;

namespace HardPair.ML.Checkpoints;

/// <summary>A verified checkpoint with its network loaded; owns and disposes the network.</summary>
public sealed class LoadedCheckpoint(string folder, CheckpointManifest manifest, nn.Module<Tensor, Tensor> model) : IDisposable
{
    public string Folder { get; } = folder;

    public CheckpointManifest Manifest { get; } = manifest;

    public nn.Module<Tensor, Tensor> Model { get; } = model;

    /// <summary>
    /// A fresh network of the manifest's architecture, classes and head holding a copy of
    /// <see cref="Model"/>'s weights, on the CPU: the bytes already verified, not read or hashed
    /// again. The caller owns it; training it leaves this checkpoint's network as it is.
    /// </summary>
    public nn.Module<Tensor, Tensor> CopyNetwork()
    {
        var copy = ModelRegistry.Create(Manifest.Architecture, Manifest.ClassNames.Length, Enum.Parse<ClassifierHeadKind>(Manifest.Head, ignoreCase: true));
        try
        {
            NetworkWeights.LoadInto(copy, NetworkWeights.Of(Model));
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    public void Dispose() => Model.Dispose();
}
