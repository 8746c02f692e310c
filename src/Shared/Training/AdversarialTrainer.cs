using System.Diagnostics;
using HardPair.Shared.Data;
using HardPair.Shared.Objectives;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Training;

/// <summary>
/// Runs an objective over a dataset with SGD: one dispose scope per step, so the number of live
/// tensors stays flat whatever the run's length.
/// </summary>
public static class AdversarialTrainer
{
    public static void Train(
        nn.Module<Tensor, Tensor> model,
        ITrainingObjective objective,
        ImageDataset data,
        TrainingOptions options,
        Device device,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var stepsPerEpoch = (data.Count + options.BatchSize - 1) / options.BatchSize;
        var totalSteps = Math.Max(1, (int)Math.Round(options.Epochs * stepsPerEpoch));
        var decaySteps = options.DecayAt.Select(f => (int)Math.Round(f * totalSteps)).ToHashSet();

        using var optimizer = torch.optim.SGD(model.parameters(), options.LearningRate, options.Momentum, weight_decay: options.WeightDecay);
        var learningRate = options.LearningRate;
        var step = 0;
        var clock = Stopwatch.StartNew();
        for (var epoch = 0; step < totalSteps; epoch++)
        {
            foreach (var indices in data.BatchIndices(options.BatchSize, options.Seed + epoch))
            {
                if (step == totalSteps)
                {
                    break;
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (decaySteps.Contains(step))
                {
                    learningRate *= 0.1;
                    foreach (var group in optimizer.ParamGroups)
                    {
                        group.LearningRate = learningRate;
                    }
                }

                var started = clock.Elapsed;
                using var scope = torch.NewDisposeScope();
                var (images, labels) = data.Batch(indices);
                images = images.to(device);
                labels = labels.to(device);
                optimizer.zero_grad();
                var loss = objective.Compute(model, images, labels);
                loss.Total.backward();
                optimizer.step();
                step++;

                var seconds = (clock.Elapsed - started).TotalSeconds;
                progress?.Report(new TrainingProgress(
                    step,
                    totalSteps,
                    (double)step / stepsPerEpoch,
                    loss.Total.item<float>(),
                    loss.Natural.item<float>(),
                    loss.Robust?.item<float>(),
                    learningRate,
                    indices.Length / Math.Max(seconds, 1e-9)));
            }
        }

        model.eval();
    }
}
