using HardPair.Storage.Data;

namespace HardPair.Storage.Checkpoints;

/// <summary>
/// The networks a checkpoint may name — architecture, the input it takes, the classifier heads —
/// as far as verifying a manifest needs them, without building anything. The ML core builds each
/// of them (<c>HardPair.ML.Models.ModelRegistry</c>, whose tests hold it to exactly this list).
/// </summary>
public static class NetworkCatalog
{
    public const string SmallCnn = "small-cnn";
    public const string PreActResNet18 = "preact-resnet18";

    /// <summary>Each architecture's name, input shape and one-line description.</summary>
    public static IReadOnlyList<NetworkSpec> Architectures { get; } =
    [
        new(SmallCnn, new ImageShape(1, 28, 28), "conv32-conv64-fc128 CNN for 1x28x28 (Fashion-MNIST, MNIST)"),
        new(PreActResNet18, new ImageShape(3, 32, 32), "pre-activation ResNet-18 for 3x32x32 (CIFAR-10)"),
    ];

    /// <summary>The classifier heads, by the names manifests use (case-insensitive).</summary>
    public static IReadOnlyList<string> Heads { get; } = ["cosine", "linear"];

    public static IEnumerable<string> Names => Architectures.Select(a => a.Name);

    public static bool TryGet(string name, out NetworkSpec spec)
    {
        spec = Architectures.FirstOrDefault(a => a.Name == name)!;
        return spec is not null;
    }

    /// <summary>The architecture made for images of <paramref name="shape"/>; throws when none is.</summary>
    public static NetworkSpec For(ImageShape shape) =>
        Architectures.FirstOrDefault(a => a.InputShape == shape)
        ?? throw new ArgumentException($"no architecture takes {shape} images (known: {string.Join(", ", Architectures.Select(a => $"{a.Name} {a.InputShape}"))})", nameof(shape));

    public static bool IsHead(string? head) => head is not null && Heads.Contains(head, StringComparer.OrdinalIgnoreCase);
}

/// <summary>A named network as a manifest describes it: the input it takes.</summary>
public sealed record NetworkSpec(string Name, ImageShape InputShape, string Description);
