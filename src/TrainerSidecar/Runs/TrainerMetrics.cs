using System.Diagnostics.Metrics;
using HardPair.ML.Training;
using HardPair.Protos.V1;

namespace HardPair.TrainerSidecar.Runs;

/// <summary>The sidecar's OpenTelemetry-compatible instruments (meter <c>HardPair.Trainer</c>).</summary>
public sealed class TrainerMetrics
{
    public const string MeterName = "HardPair.Trainer";

    private readonly Counter<long> steps;
    private readonly Histogram<double> throughput;
    private readonly Histogram<double> loss;
    private readonly Counter<long> runs;
    private readonly Counter<long> publishes;
    private readonly Counter<long> rejections;
    private readonly Histogram<double> robustAccuracy;

    public TrainerMetrics(IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(MeterName);
        steps = meter.CreateCounter<long>("hardpair.trainer.steps", "{step}", "Optimiser steps taken");
        throughput = meter.CreateHistogram<double>("hardpair.trainer.throughput", "{image}/s", "Training images per second, per step");
        loss = meter.CreateHistogram<double>("hardpair.trainer.loss", "1", "Training loss per step (tag term: total, natural, robust)");
        runs = meter.CreateCounter<long>("hardpair.trainer.runs", "{run}", "Runs finished (tag outcome)");
        publishes = meter.CreateCounter<long>("hardpair.trainer.publishes", "{checkpoint}", "Checkpoints published");
        rejections = meter.CreateCounter<long>("hardpair.trainer.gate_rejections", "{run}", "Candidates the robustness gate refused");
        robustAccuracy = meter.CreateHistogram<double>("hardpair.trainer.robust_accuracy", "1", "Candidates' robust accuracy on the gate's held-out images");
    }

    public void Step(TrainingProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        steps.Add(1);
        throughput.Record(progress.ExamplesPerSecond);
        loss.Record(progress.Loss, new KeyValuePair<string, object?>("term", "total"));
        loss.Record(progress.NaturalLoss, new KeyValuePair<string, object?>("term", "natural"));
        if (progress.RobustLoss is { } robust)
        {
            loss.Record(robust, new KeyValuePair<string, object?>("term", "robust"));
        }
    }

    public void RunFinished(RunPhase phase) => runs.Add(1, new KeyValuePair<string, object?>("outcome", phase.ToString().ToLowerInvariant()));

    public void Published() => publishes.Add(1);

    public void GateRejected() => rejections.Add(1);

    public void CandidateMeasured(double robust) => robustAccuracy.Record(robust);
}
