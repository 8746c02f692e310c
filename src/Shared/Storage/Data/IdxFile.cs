using System.Buffers.Binary;
using System.IO.Compression;

namespace HardPair.Storage.Data;

/// <summary>
/// An IDX file (the MNIST family's format): a big-endian header — two zero bytes, a type code,
/// the number of dimensions — then the dimension sizes and the data. Only unsigned bytes
/// (type 0x08) are used by image datasets. Gzip-compressed files are read transparently.
/// </summary>
public sealed class IdxFile
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;
    private const byte UnsignedByte = 0x08;

    private IdxFile(int[] dimensions, byte[] data)
    {
        Dimensions = dimensions;
        Data = data;
    }

    public IReadOnlyList<int> Dimensions { get; }

    public byte[] Data { get; }

    /// <summary>Reads a file and checks it has the expected magic number (type and rank).</summary>
    public static IdxFile Read(string path, int expectedMagic)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException(path, "file not found");
        }

        byte[] content;
        try
        {
            content = ReadMaybeGzipped(path);
        }
        catch (InvalidDataException ex)
        {
            throw new DatasetException(path, $"corrupt gzip stream ({ex.Message})", ex);
        }
        catch (IOException ex)
        {
            throw new DatasetException(path, $"cannot be read ({ex.Message})", ex);
        }

        return Parse(path, content, expectedMagic);
    }

    internal static IdxFile Parse(string path, ReadOnlySpan<byte> content, int expectedMagic)
    {
        if (content.Length < 4)
        {
            throw new DatasetException(path, $"truncated: {content.Length} bytes, too short for an IDX header");
        }

        var magic = BinaryPrimitives.ReadInt32BigEndian(content);
        if (magic != expectedMagic)
        {
            throw new DatasetException(path, $"wrong magic number {magic} (0x{magic:X8}); expected {expectedMagic} (0x{expectedMagic:X8})");
        }

        if (content[2] != UnsignedByte)
        {
            throw new DatasetException(path, $"unsupported element type 0x{content[2]:X2}; expected unsigned bytes (0x08)");
        }

        var rank = content[3];
        var headerLength = 4 + (4 * rank);
        if (content.Length < headerLength)
        {
            throw new DatasetException(path, $"truncated: {content.Length} bytes, the header alone needs {headerLength}");
        }

        var dimensions = new int[rank];
        long expected = 1;
        for (var i = 0; i < rank; i++)
        {
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(content[(4 + (4 * i))..]);
            if (dimensions[i] <= 0)
            {
                throw new DatasetException(path, $"dimension {i} has invalid size {dimensions[i]}");
            }

            expected *= dimensions[i];
        }

        var actual = content.Length - headerLength;
        if (actual < expected)
        {
            throw new DatasetException(path, $"truncated: the header promises {expected} data bytes ({string.Join('x', dimensions)}) but only {actual} follow");
        }

        if (actual > expected)
        {
            throw new DatasetException(path, $"{actual - expected} unexpected trailing bytes after {expected} data bytes");
        }

        return new IdxFile(dimensions, content[headerLength..].ToArray());
    }

    private static byte[] ReadMaybeGzipped(string path)
    {
        var raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1F || raw[1] != 0x8B)
        {
            return raw;
        }

        using var input = new MemoryStream(raw);
        using var gzip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream(raw.Length * 4);
        gzip.CopyTo(output);
        return output.ToArray();
    }
}
