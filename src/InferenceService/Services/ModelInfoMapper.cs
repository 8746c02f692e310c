using Google.Protobuf.WellKnownTypes;
using HardPair.InferenceService.Models;
using HardPair.Protos.V1;

namespace HardPair.InferenceService.Services;

/// <summary>A serving model's description in the contract's terms.</summary>
internal static class ModelInfoMapper
{
    public static ModelInfo From(ModelDescription model)
    {
        var manifest = model.Manifest;
        var info = new ModelInfo
        {
            Version = model.Version,
            Architecture = manifest.Architecture,
            InputShape = { model.InputShape.Channels, model.InputShape.Height, model.InputShape.Width },
            ClassNames = { model.ClassNames },
            TrainingMethod = manifest.Training.Method,
            CleanAccuracy = manifest.Metrics.CleanAccuracy,
            Epsilon = model.Epsilon,
            CalibrationTemperature = model.Temperature,
            EceBefore = manifest.Calibration?.EceBefore ?? 0,
            EceAfter = manifest.Calibration?.EceAfter ?? 0,
            HardPairShare = manifest.Metrics.HardPairShare ?? 0,
            LoadedAt = Timestamp.FromDateTimeOffset(model.LoadedAt),
            Device = ML.Torch.TorchRuntime.Current?.Device ?? "",
        };
        info.RobustAccuracy.AddRange(manifest.Metrics.Robust.Select(r => new AttackAccuracy { Attack = r.Attack, Epsilon = r.Epsilon, Steps = r.Steps, Accuracy = r.Accuracy, Examples = r.Examples }));
        info.CleanExamples = manifest.Metrics.CleanExamples;
        if (manifest.Metrics.RobustSummary is { } robust)
        {
            info.Robust = new Protos.V1.RobustSummary { Attack = robust.Attack, Epsilon = robust.Epsilon, Accuracy = robust.Accuracy, Examples = robust.Examples, WorstCase = robust.WorstCase };
        }

        info.HardPairs.AddRange(Storage.Checkpoints.ModelCard.HardestPairs(model.ClassNames, model.PairHardness).Take(10)
            .Select(p => new ClassPair { First = p.First, Second = p.Second, Hardness = p.Hardness }));
        info.Training = new TrainingRecipe
        {
            Method = manifest.Training.Method,
            Epochs = manifest.Training.Epochs,
            Seed = manifest.Training.Seed,
            HyperParameters = { manifest.Training.HyperParameters },
            Dataset = manifest.Dataset.Name,
            TrainExamples = manifest.Dataset.TrainExamples,
            ValidationExamples = manifest.Dataset.ValidationExamples,
            FeedbackExamples = manifest.Dataset.FeedbackExamples,
            ParentVersion = manifest.ParentVersion ?? "",
        };
        foreach (var c in manifest.Metrics.Classes)
        {
            info.Classes.Add(new ClassAccuracy { Name = c.Name, CleanAccuracy = c.CleanAccuracy, RobustAccuracy = c.RobustAccuracy, HardPartner = c.HardPartner });
        }

        info.ThreatModel = Storage.Checkpoints.ModelCard.ThreatModel(manifest);
        return info;
    }
}
