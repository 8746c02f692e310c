using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using static TorchSharp.torch;

namespace HardPair.ML.Models;

/// <summary>The architectures HardPair can build, train and load, by name.</summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, ModelArchitecture> Architectures = NetworkCatalog.Architectures.ToDictionary(
        spec => spec.Name,
        spec => new ModelArchitecture(spec.Name, spec.InputShape, spec.Description, Builder(spec)),
        StringComparer.Ordinal);

    public static IReadOnlyCollection<string> Names => Architectures.Keys;

    public static bool TryGet(string name, out ModelArchitecture architecture) =>
        Architectures.TryGetValue(name, out architecture!);

    public static ModelArchitecture Get(string name) =>
        TryGet(name, out var architecture)
            ? architecture
            : throw new ArgumentException($"Unknown architecture '{name}': expected one of {string.Join(", ", Names)}.", nameof(name));

    /// <summary>Builds a freshly initialised network on the CPU.</summary>
    public static nn.Module<Tensor, Tensor> Create(string name, int classes, ClassifierHeadKind head)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        var architecture = Get(name);
        TorchRuntime.EnsureInitialized();
        return architecture.Build(classes, head);
    }

    private static Func<int, ClassifierHeadKind, nn.Module<Tensor, Tensor>> Builder(NetworkSpec spec) => spec.Name switch
    {
        NetworkCatalog.SmallCnn => (classes, head) => new SmallCnn(spec.InputShape.Channels, spec.InputShape.Height, spec.InputShape.Width, classes, head),
        NetworkCatalog.PreActResNet18 => (classes, head) => new PreActResNet18(spec.InputShape.Channels, classes, head),
        _ => throw new InvalidOperationException($"the catalog names architecture '{spec.Name}', which the ML core cannot build"),
    };
}
