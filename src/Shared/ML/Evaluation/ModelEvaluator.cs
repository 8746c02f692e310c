using System.Diagnostics;
using HardPair.ML.Attacks;
using HardPair.ML.Data;
using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Evaluation;

/// <summary>
/// The evaluation protocol in one call: clean accuracy, each attack's (or suite's) robust accuracy
/// and confusion, hard-pair statistics from the headline attack, and a calibration temperature
/// fitted on the validation data with ECE before and after on the test data.
/// </summary>
public static class ModelEvaluator
{
    public static EvaluationReport Evaluate(
        nn.Module<Tensor, Tensor> model,
        EvaluationPlan plan,
        Device device,
        IProgress<string>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(plan);
        var unknown = plan.Attacks.FirstOrDefault(a => !AttackCatalog.IsKnown(a));
        if (unknown is not null)
        {
            throw new ArgumentException($"unknown attack '{unknown}'", nameof(plan));
        }

        // One forward pass over the test set: clean accuracy, its confusion, and calibration below.
        using var scope = torch.NewDisposeScope();
        var clock = Stopwatch.StartNew();
        var (testLogits, testLabels) = Logits(model, plan.Test, plan.BatchSize, device);
        var clean = RobustnessEvaluator.Clean(testLogits, testLabels, plan.Test.ClassNames.Count, clock.Elapsed.TotalSeconds);
        progress?.Report(Describe(clean));

        var attacked = plan.RobustExamples is { } count && count < plan.Test.Count ? plan.Test.Take(count) : plan.Test;
        var robust = new List<AttackResult>();
        foreach (var name in plan.Attacks.Where(a => a != AttackCatalog.Clean))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var attack = AttackCatalog.Create(name, plan.Epsilon, plan.LogitScale, plan.Seed);
            if (robust.Any(r => r.Attack == attack.Name))
            {
                continue;
            }

            var result = RobustnessEvaluator.Run(model, attacked, attack, plan.BatchSize, device, cancellationToken);
            robust.Add(result);
            foreach (var stage in result.Stages ?? [])
            {
                progress?.Report(FormattableString.Invariant($"  {result.Attack} / {stage.Attack}: broke {stage.Broken} of {stage.Attacked} standing ({stage.Seconds:0.0} s)"));
            }

            progress?.Report(Describe(result));
        }

        var source = EvaluationReport.HeadlineOf(robust) ?? clean;

        var (validationLogits, validationLabels) = Logits(model, plan.Validation, plan.BatchSize, device);
        var temperature = TemperatureScaling.Fit(validationLogits, validationLabels);
        var eceBefore = CalibrationError.Expected(testLogits, testLabels, 1 / plan.LogitScale);
        var eceAfter = CalibrationError.Expected(testLogits, testLabels, temperature);

        progress?.Report(FormattableString.Invariant($"calibration: T = {temperature:0.####}, ECE {eceBefore:P2} → {eceAfter:P2}"));
        return new EvaluationReport
        {
            ClassNames = plan.Test.ClassNames,
            Clean = clean,
            Robust = robust,
            PairHardnessSource = source.Attack,
            HardPairs = HardPairStatistics.From(source.Confusion),
            Temperature = temperature,
            EceBefore = eceBefore,
            EceAfter = eceAfter,
            CalibrationBins = CalibrationError.DefaultBins,
            ValidationExamples = plan.Validation.Count,
        };
    }

    /// <summary>The model's raw outputs [N, C] on the CPU and the labels [N], in dataset order.</summary>
    public static (Tensor Logits, Tensor Labels) Logits(nn.Module<Tensor, Tensor> model, ImageDataset data, int batchSize, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var logits = new List<Tensor>();
        var labels = new List<Tensor>();
        foreach (var indices in data.BatchIndices(batchSize, seed: null))
        {
            var (images, truth) = data.Batch(indices);
            logits.Add(model.forward(images.to(device)).cpu());
            labels.Add(truth);
        }

        return (torch.cat(logits, 0).MoveToOuterDisposeScope(), torch.cat(labels, 0).MoveToOuterDisposeScope());
    }

    private static string Describe(AttackResult result) => result.Attack == AttackCatalog.Clean
        ? FormattableString.Invariant($"clean: {result.Accuracy:P1} of {result.Total} ({result.Seconds:0.0} s)")
        : result.IsSuite
            ? FormattableString.Invariant($"{result.Attack} (ε {result.Epsilon}, worst case per example): {result.Accuracy:P1} of {result.Total} ({result.Seconds:0.0} s)")
            : FormattableString.Invariant($"{result.Attack} (ε {result.Epsilon}, {result.Steps} steps of {result.StepSize:0.####}): {result.Accuracy:P1} of {result.Total} ({result.Seconds:0.0} s)");
}
