using HardPair.Shared.Data;
using HardPair.Shared.Torch;
using static TorchSharp.torch;

namespace HardPair.Shared.Models;

/// <summary>The architectures HardPair can build, train and load, by name.</summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, ModelArchitecture> Architectures = new(StringComparer.Ordinal)
    {
        [SmallCnn.ArchitectureName] = new(
            SmallCnn.ArchitectureName,
            new ImageShape(1, 28, 28),
            "conv32-conv64-fc128 CNN for 1x28x28 (Fashion-MNIST, MNIST)",
            (classes, head) => new SmallCnn(1, 28, 28, classes, head)),
        [PreActResNet18.ArchitectureName] = new(
            PreActResNet18.ArchitectureName,
            new ImageShape(3, 32, 32),
            "pre-activation ResNet-18 for 3x32x32 (CIFAR-10)",
            (classes, head) => new PreActResNet18(3, classes, head)),
    };

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
}
