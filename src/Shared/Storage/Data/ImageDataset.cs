namespace HardPair.Storage.Data;

/// <summary>
/// Labelled 8-bit images held in managed memory (the whole of Fashion-MNIST is 55 MB); the ML
/// core turns them into float tensors in [0, 1] one batch at a time (<c>HardPair.ML.Data.ImageBatches</c>).
/// </summary>
public sealed class ImageDataset
{
    private readonly byte[] pixels;
    private readonly byte[] labels;
    private readonly int[] rows;

    public ImageDataset(string name, byte[] pixels, byte[] labels, ImageShape shape, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (pixels.LongLength != (long)labels.Length * shape.Elements)
        {
            throw new ArgumentException($"{pixels.Length} pixel bytes do not hold {labels.Length} images of {shape}.", nameof(pixels));
        }

        Name = name;
        Shape = shape;
        ClassNames = classNames;
        this.pixels = pixels;
        this.labels = labels;
        rows = Enumerable.Range(0, labels.Length).ToArray();
    }

    private ImageDataset(ImageDataset source, int[] rows)
    {
        Name = source.Name;
        Shape = source.Shape;
        ClassNames = source.ClassNames;
        pixels = source.pixels;
        labels = source.labels;
        this.rows = rows;
    }

    public string Name { get; }

    public ImageShape Shape { get; }

    public IReadOnlyList<string> ClassNames { get; }

    public int Count => rows.Length;

    /// <summary>The rows of the underlying files this view holds, in order.</summary>
    internal IReadOnlyList<int> SourceRows => rows;

    public int Label(int index) => labels[rows[index]];

    public ReadOnlySpan<byte> Image(int index) => pixels.AsSpan(rows[index] * Shape.Elements, Shape.Elements);

    /// <summary>This dataset followed by <paramref name="other"/> (same shape and classes), copied into one.</summary>
    public ImageDataset Concat(ImageDataset other, string name)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Shape != Shape || !other.ClassNames.SequenceEqual(ClassNames))
        {
            throw new ArgumentException($"cannot join {other.Name} ({other.Shape}) to {Name} ({Shape}): shapes or classes differ", nameof(other));
        }

        var joinedPixels = new byte[(long)(Count + other.Count) * Shape.Elements];
        var joinedLabels = new byte[Count + other.Count];
        for (var i = 0; i < Count; i++)
        {
            Image(i).CopyTo(joinedPixels.AsSpan(i * Shape.Elements, Shape.Elements));
            joinedLabels[i] = (byte)Label(i);
        }

        for (var i = 0; i < other.Count; i++)
        {
            other.Image(i).CopyTo(joinedPixels.AsSpan((Count + i) * Shape.Elements, Shape.Elements));
            joinedLabels[Count + i] = (byte)other.Label(i);
        }

        return new ImageDataset(name, joinedPixels, joinedLabels, Shape, ClassNames);
    }

    /// <summary>The first <paramref name="count"/> examples of a seeded shuffle (stable for a seed).</summary>
    public ImageDataset Subset(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (count >= Count)
        {
            return this;
        }

        return new ImageDataset(this, Permutation(seed)[..count]);
    }

    /// <summary>The first <paramref name="count"/> examples in file order (a stable evaluation slice).</summary>
    public ImageDataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return count >= Count ? this : new ImageDataset(this, rows[..count]);
    }

    /// <summary>
    /// A seeded, disjoint split: the same seed always gives the same two parts, and every
    /// example lands in exactly one of them.
    /// </summary>
    public (ImageDataset Train, ImageDataset Validation) Split(double validationFraction, int seed)
    {
        if (validationFraction is <= 0 or >= 1 || double.IsNaN(validationFraction))
        {
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must lie strictly between 0 and 1");
        }

        var order = Permutation(seed);
        var validationCount = Math.Max(1, (int)Math.Round(Count * validationFraction));
        var validation = order[..validationCount];
        var train = order[validationCount..];
        Array.Sort(validation);
        Array.Sort(train);
        return (new ImageDataset(this, train), new ImageDataset(this, validation));
    }

    /// <summary>Index batches over the dataset, shuffled with <paramref name="seed"/> or in order when null.</summary>
    public IEnumerable<int[]> BatchIndices(int batchSize, int? seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var order = seed is { } s ? LocalPermutation(s) : Enumerable.Range(0, Count).ToArray();
        for (var start = 0; start < order.Length; start += batchSize)
        {
            yield return order[start..Math.Min(order.Length, start + batchSize)];
        }
    }

    private int[] Permutation(int seed)
    {
        var order = LocalPermutation(seed);
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = rows[order[i]];
        }

        return order;
    }

    // Positions 0..Count-1 shuffled by a Fisher–Yates pass over a seeded generator.
    private int[] LocalPermutation(int seed)
    {
        var order = Enumerable.Range(0, Count).ToArray();
        var random = new Random(seed);
        for (var i = order.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }
}
