using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.ML.Attacks;
using HardPair.Protos.V1;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace HardPair.InferenceService.Services;

/// <summary>
/// The opt-in per-request probe: a short PGD (cross-entropy, random start) at the checkpoint's ε
/// away from the predicted label, on the very version that answered. Its cost is capped by the
/// step count and by a limit on probes running at once; a deadline that passes stops it.
/// </summary>
public sealed class RobustnessProber(ModelHost host, IOptions<InferenceOptions> options) : IDisposable
{
    private readonly SemaphoreSlim slots = new(options.Value.MaxConcurrentProbes);
    private readonly int steps = options.Value.ProbeSteps;

    public async Task<RobustnessProbe> ProbeAsync(float[] pixels, int label, ModelDescription answered, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(answered);
        var probe = new RobustnessProbe { Epsilon = (float)answered.Epsilon, Steps = steps };
        await slots.WaitAsync(cancellationToken);
        try
        {
            using var lease = host.TryAcquire();
            if (lease is null || lease.Model.Version != answered.Version)
            {
                // The model changed since the answer: probing another version would mislead.
                return probe;
            }

            probe.Ran = true;
            var adversarial = await Task.Run(() => Attack(lease.Model, pixels, label, answered, cancellationToken), cancellationToken);
            probe.Completed = true;
            probe.AdversarialLabel = adversarial;
            probe.AdversarialClassName = answered.ClassNames[adversarial];
            probe.LabelFlips = adversarial != label;
            return probe;
        }
        finally
        {
            slots.Release();
        }
    }

    public void Dispose() => slots.Dispose();

    private int Attack(ServingModel model, float[] pixels, int label, ModelDescription description, CancellationToken cancellationToken)
    {
        var shape = description.InputShape;
        using var scope = torch.NewDisposeScope();
        var device = ML.Torch.TorchRuntime.Device;
        var image = torch.tensor(pixels, [1, shape.Channels, shape.Height, shape.Width]).to(device);
        var target = torch.tensor(new long[] { label }).to(device);
        var attack = AttackCatalog.Create($"pgd{steps}", description.Epsilon, description.LogitScale, seed: 0);
        var adversarial = attack.Perturb(model.Network, image, target, cancellationToken);
        using var inference = torch.inference_mode();
        return (int)model.Network.forward(adversarial).argmax(1).item<long>();
    }
}
