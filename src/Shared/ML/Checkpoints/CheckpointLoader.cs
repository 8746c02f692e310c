using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Checkpoints;

/// <summary>
/// Loads a checkpoint folder into a network: <see cref="CheckpointReader"/> verifies it and hands
/// over the very bytes it hashed; this builds a fresh network of the manifest's architecture,
/// loads the weights strictly, checks the output shape, and hands the network out only when all
/// of that succeeded — a failed load disposes the half-built network.
/// </summary>
public static class CheckpointLoader
{
    /// <summary>Verifies the folder and loads its network in eval mode on <paramref name="device"/> (CPU when null).</summary>
    public static LoadedCheckpoint Load(string folder, Device? device = null, string? expectedVersion = null, CheckpointSigning? signing = null) =>
        CheckpointReader.WithVerifiedWeights(folder, expectedVersion, signing, (manifest, weights) => Build(folder, manifest, weights, device));

    private static LoadedCheckpoint Build(string folder, CheckpointManifest manifest, ArraySegment<byte> weights, Device? device)
    {
        var head = Enum.Parse<ClassifierHeadKind>(manifest.Head, ignoreCase: true);
        var model = ModelRegistry.Create(manifest.Architecture, manifest.ClassNames.Length, head);
        try
        {
            NetworkWeights.LoadInto(model, weights);

            model.eval();
            CheckOutputShape(folder, manifest, model);
            if (device is not null && device.type != DeviceType.CPU)
            {
                model.to(device);
            }

            return new LoadedCheckpoint(folder, manifest, model);
        }
        catch (Exception ex) when (ex is not CheckpointException)
        {
            model.Dispose();
            throw new CheckpointException(folder, $"weights do not load into architecture '{manifest.Architecture}' ({ex.Message})", ex);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void CheckOutputShape(string folder, CheckpointManifest manifest, nn.Module<Tensor, Tensor> model)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.inference_mode();
        var shape = new long[] { 1 }.Concat(manifest.InputShape.Select(d => (long)d)).ToArray();
        var logits = model.forward(torch.zeros(shape));
        if (logits.shape.Length != 2 || logits.shape[1] != manifest.ClassNames.Length)
        {
            throw new CheckpointException(folder, $"network outputs [{string.Join(", ", logits.shape)}], not {manifest.ClassNames.Length} logits");
        }
    }
}
