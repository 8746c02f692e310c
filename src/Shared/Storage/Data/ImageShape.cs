namespace HardPair.Storage.Data;

/// <summary>The shape of one image, channels first.</summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    public int Elements => Channels * Height * Width;

    public long[] ToArray() => [Channels, Height, Width];

    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
