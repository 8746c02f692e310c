using HardPair.ML.Checkpoints;
using HardPair.ML.Evaluation;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.InferenceService.Models;

/// <summary>
/// Turns a checkpoint folder into a servable model, or refuses it with a reason: the reader
/// checks the signature (when the deployment signs), digest, architecture, head and output
/// shape; then a canary batch (black, white and noise images) must give finite outputs of the
/// right shape.
/// </summary>
public sealed class CandidateVerifier(TimeProvider time, CheckpointSigning signing)
{
    public ServingModel Load(string folder, string version)
    {
        var device = TorchRuntime.Device;
        var loaded = CheckpointLoader.Load(folder, device, version, signing);
        try
        {
            var manifest = loaded.Manifest;
            var shape = new ImageShape(manifest.InputShape[0], manifest.InputShape[1], manifest.InputShape[2]);
            Canary(loaded.Model, shape, manifest.ClassNames.Length, device, folder);
            var hardness = manifest.PairHardness.Length == manifest.ClassNames.Length
                ? manifest.PairHardness
                : [.. manifest.ClassNames.Select(_ => new double[manifest.ClassNames.Length])];
            var statistics = HardPairStatistics.FromHardness(hardness);
            var description = new ModelDescription(
                manifest.Version,
                manifest,
                shape,
                manifest.ClassNames,
                manifest.CalibrationTemperature,
                hardness,
                statistics.HardPartners,
                hardness.SelectMany(row => row).DefaultIfEmpty(0).Max(),
                manifest.Training.HyperParameters.GetValueOrDefault("epsilon", EvaluationProtocol.DefaultEpsilon),
                manifest.Training.HyperParameters.GetValueOrDefault("scale", 1.0),
                time.GetUtcNow());
            return new ServingModel(description, loaded.Model);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static void Canary(nn.Module<Tensor, Tensor> model, ImageShape shape, int classes, Device device, string folder)
    {
        using var scope = torch.NewDisposeScope();
        using var inference = torch.inference_mode();
        using var generator = new Generator(17);
        var batch = torch.cat(
            [
                torch.zeros([1, shape.Channels, shape.Height, shape.Width]),
                torch.ones([1, shape.Channels, shape.Height, shape.Width]),
                torch.rand([2, shape.Channels, shape.Height, shape.Width], generator: generator),
            ],
            0).to(device);
        var output = model.forward(batch);
        if (output.dim() != 2 || output.shape[0] != 4 || output.shape[1] != classes)
        {
            throw new CheckpointException(folder, $"canary batch: output shape [{string.Join(", ", output.shape)}], expected [4, {classes}]");
        }

        if (!output.isfinite().all().item<bool>())
        {
            throw new CheckpointException(folder, "canary batch: the model's outputs are not finite (NaN or infinity)");
        }
    }
}
