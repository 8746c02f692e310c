using System.Diagnostics;
using HardPair.ML.Data;
using HardPair.ML.Objectives;
using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Training;

/// <summary>
/// Runs an objective over a dataset with SGD (<see cref="FlatSgd"/>): one dispose scope per step,
/// so the number of live tensors stays flat whatever the run's length. With snapshots, the
/// weights, optimizer state, weight average and step are saved every few steps and a later call with the same
/// folder resumes from the latest (the batch order is a function of seed and epoch, so the
/// resumed run sees the same batches).
/// </summary>
public static class AdversarialTrainer
{
    public static TrainingOutcome Train(
        nn.Module<Tensor, Tensor> model,
        ITrainingObjective objective,
        ImageDataset data,
        TrainingOptions options,
        Device device,
        IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default,
        TrainingSnapshotOptions? snapshots = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var stepsPerEpoch = (data.Count + options.BatchSize - 1) / options.BatchSize;
        var totalSteps = Math.Max(1, (int)Math.Round(options.Epochs * stepsPerEpoch));

        var snapshot = snapshots is null ? null : TrainingSnapshots.Latest(snapshots.Folder);
        if (snapshot is not null)
        {
            // Before the optimizer takes the parameters over: it moves them into its flat buffer.
            TrainingSnapshots.RestoreWeights(snapshot, model);
        }

        using var optimizer = new FlatSgd(model.parameters(), options.LearningRate, options.Momentum, options.WeightDecay);
        var resumeAt = 0;
        if (snapshot is not null)
        {
            TrainingSnapshots.RestoreOptimizer(snapshot, model, optimizer);
            resumeAt = Math.Min(snapshot.Step, totalSteps);
        }

        using var average = options.EmaDecay > 0 ? new WeightAverage(optimizer, options.EmaDecay) : null;
        if (snapshot is not null && average is not null)
        {
            TrainingSnapshots.RestoreAverage(snapshot, average);
        }
        var learningRate = options.LearningRate;

        // On an accelerator the batches are gathered where they are used (see DeviceResidentDataset).
        using var resident = device.type == DeviceType.CPU ? null : new DeviceResidentDataset(data, device);
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

                if (step < resumeAt)
                {
                    step++;
                    continue;
                }

                cancellationToken.ThrowIfCancellationRequested();
                learningRate = options.LearningRateAt(step, totalSteps);
                optimizer.LearningRate = learningRate;

                var started = clock.Elapsed;
                using var scope = torch.NewDisposeScope();
                var (images, labels) = resident?.Batch(indices) ?? data.Batch(indices);
                images = images.to(device);
                labels = labels.to(device);
                optimizer.ZeroGrad();
                var loss = objective.Compute(model, images, labels);
                loss.Total.backward();
                optimizer.Step();
                average?.Update();
                step++;

                if (progress is not null)
                {
                    var values = ReadBack(loss);
                    var seconds = (clock.Elapsed - started).TotalSeconds;
                    progress.Report(new TrainingProgress(
                        step,
                        totalSteps,
                        (double)step / stepsPerEpoch,
                        values[0],
                        values[1],
                        loss.Robust is null ? null : values[2],
                        learningRate,
                        indices.Length / Math.Max(seconds, 1e-9)));
                }

                if (snapshots is not null && (step % snapshots.Every == 0 || step == totalSteps))
                {
                    TrainingSnapshots.Write(snapshots.Folder, step, learningRate, model, optimizer, average);
                }
            }
        }

        average?.CopyInto();
        model.eval();
        return new TrainingOutcome(totalSteps, resumeAt);
    }

    /// <summary>The step's losses in one copy to the host (one device synchronisation, not three).</summary>
    private static float[] ReadBack(ObjectiveLoss loss)
    {
        using var noGrad = torch.no_grad();
        Tensor[] parts = loss.Robust is null
            ? [loss.Total.detach(), loss.Natural.detach()]
            : [loss.Total.detach(), loss.Natural.detach(), loss.Robust.detach()];
        return torch.stack(parts).cpu().data<float>().ToArray();
    }
}
