namespace HardPair.Storage.Data;

/// <summary>
/// The datasets HardPair knows by name: MNIST-format IDX pairs
/// (<c>{train,t10k}-images-idx3-ubyte[.gz]</c> and <c>{train,t10k}-labels-idx1-ubyte[.gz]</c>).
/// </summary>
public static class DatasetCatalog
{
    public const string FashionMnist = "fashion-mnist";
    public const string Mnist = "mnist";

    /// <summary>Fashion-MNIST's labels 0–9, in order.</summary>
    public static readonly IReadOnlyList<string> FashionMnistClasses =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    public static readonly IReadOnlyList<string> MnistClasses = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    public static IReadOnlyList<string> Names { get; } = [FashionMnist, Mnist];

    /// <summary>The folder Debian's package installs a dataset into.</summary>
    public static string DefaultFolder(string dataset) => dataset switch
    {
        FashionMnist => "/usr/share/datasets/fashion-mnist",
        Mnist => "/usr/share/datasets/mnist",
        _ => throw UnknownDataset(dataset),
    };

    public static IReadOnlyList<string> ClassNames(string dataset) => dataset switch
    {
        FashionMnist => FashionMnistClasses,
        Mnist => MnistClasses,
        _ => throw UnknownDataset(dataset),
    };

    /// <summary>The shape of every image of <paramref name="dataset"/> (both are 28×28 grayscale).</summary>
    public static ImageShape Shape(string dataset) => dataset switch
    {
        FashionMnist or Mnist => new ImageShape(1, 28, 28),
        _ => throw UnknownDataset(dataset),
    };

    public static ImageDataset Load(DataOptions options, DatasetSplit split)
    {
        ArgumentNullException.ThrowIfNull(options);
        var folder = string.IsNullOrWhiteSpace(options.Folder) ? DefaultFolder(options.Dataset) : options.Folder;
        return LoadIdx(options.Dataset, folder, split, ClassNames(options.Dataset));
    }

    /// <summary>Reads an MNIST-format image/label pair from <paramref name="folder"/>.</summary>
    public static ImageDataset LoadIdx(string name, string folder, DatasetSplit split, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var prefix = split == DatasetSplit.Train ? "train" : "t10k";
        var imagesPath = FindFile(folder, $"{prefix}-images-idx3-ubyte");
        var labelsPath = FindFile(folder, $"{prefix}-labels-idx1-ubyte");

        var images = IdxFile.Read(imagesPath, IdxFile.ImagesMagic);
        var labels = IdxFile.Read(labelsPath, IdxFile.LabelsMagic);
        if (images.Dimensions[0] != labels.Dimensions[0])
        {
            throw new DatasetException(
                labelsPath,
                $"holds {labels.Dimensions[0]} labels but {Path.GetFileName(imagesPath)} holds {images.Dimensions[0]} images");
        }

        var outOfRange = Array.FindIndex(labels.Data, label => label >= classNames.Count);
        if (outOfRange >= 0)
        {
            throw new DatasetException(labelsPath, $"label {labels.Data[outOfRange]} at index {outOfRange} is outside the {classNames.Count} classes");
        }

        var shape = new ImageShape(1, images.Dimensions[1], images.Dimensions[2]);
        return new ImageDataset(name, images.Data, labels.Data, shape, classNames);
    }

    // Prefer the compressed file Debian ships; accept an uncompressed one.
    private static string FindFile(string folder, string stem)
    {
        var gz = Path.Combine(folder, stem + ".gz");
        var raw = Path.Combine(folder, stem);
        return File.Exists(gz) || !File.Exists(raw) ? gz : raw;
    }

    private static ArgumentException UnknownDataset(string dataset) =>
        new($"Unknown dataset '{dataset}': expected one of {string.Join(", ", Names)}.", nameof(dataset));
}
