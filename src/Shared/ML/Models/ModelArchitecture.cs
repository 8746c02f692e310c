using HardPair.Storage.Data;
using static TorchSharp.torch;

namespace HardPair.ML.Models;

/// <summary>A named network: the input it takes and how to build it.</summary>
public sealed record ModelArchitecture(
    string Name,
    ImageShape InputShape,
    string Description,
    Func<int, ClassifierHeadKind, nn.Module<Tensor, Tensor>> Build);
