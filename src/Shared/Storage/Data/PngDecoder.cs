using System.Buffers.Binary;
using System.IO.Compression;

namespace HardPair.Storage.Data;

/// <summary>A decoded image: 8-bit samples, row-major, <see cref="Channels"/> per pixel (alpha dropped).</summary>
public sealed record DecodedImage(int Width, int Height, int Channels, byte[] Samples);

/// <summary>
/// Decodes the PNGs a classifier client sends: 8-bit grayscale, RGB, grayscale+alpha or RGBA,
/// not interlaced. Anything else is refused with a reason rather than guessed at.
/// </summary>
public static class PngDecoder
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static DecodedImage Decode(ReadOnlySpan<byte> png, int maxPixels)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature))
        {
            throw new FormatException("not a PNG file (bad signature)");
        }

        int width = 0, height = 0, colorType = -1;
        using var compressed = new MemoryStream();
        var offset = 8;
        while (true)
        {
            if (offset + 8 > png.Length)
            {
                throw new FormatException("truncated PNG (no IEND chunk)");
            }

            var length = BinaryPrimitives.ReadInt32BigEndian(png[offset..]);
            var type = System.Text.Encoding.ASCII.GetString(png.Slice(offset + 4, 4));
            if (length < 0 || offset + 12L + length > png.Length)
            {
                throw new FormatException($"truncated PNG chunk '{type}'");
            }

            var data = png.Slice(offset + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    var bitDepth = data[8];
                    colorType = data[9];
                    if (bitDepth != 8 || colorType is not (0 or 2 or 4 or 6) || data[12] != 0)
                    {
                        throw new FormatException($"unsupported PNG: bit depth {bitDepth}, color type {colorType}, interlace {data[12]} (8-bit gray, RGB, gray+alpha or RGBA, not interlaced)");
                    }

                    if (width <= 0 || height <= 0 || (long)width * height > maxPixels)
                    {
                        throw new FormatException($"PNG of {width}x{height} is empty or larger than {maxPixels} pixels");
                    }

                    break;
                case "IDAT":
                    compressed.Write(data);
                    break;
                case "IEND":
                    return Unfilter(compressed.ToArray(), width, height, colorType);
            }

            offset += 12 + length;
        }
    }

    private static DecodedImage Unfilter(byte[] compressed, int width, int height, int colorType)
    {
        if (colorType < 0)
        {
            throw new FormatException("PNG without an IHDR chunk");
        }

        var samplesPerPixel = colorType switch { 0 => 1, 2 => 3, 4 => 2, _ => 4 };
        var stride = width * samplesPerPixel;
        var raw = new byte[(stride + 1) * height];
        using (var inflater = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress))
        {
            try
            {
                inflater.ReadExactly(raw);
            }
            catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException)
            {
                throw new FormatException($"PNG image data is damaged or short ({ex.Message})");
            }
        }

        var pixels = new byte[stride * height];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var line = raw.AsSpan((y * (stride + 1)) + 1, stride);
            var row = pixels.AsSpan(y * stride, stride);
            var previous = y == 0 ? Span<byte>.Empty : pixels.AsSpan((y - 1) * stride, stride);
            for (var x = 0; x < stride; x++)
            {
                int a = x >= samplesPerPixel ? row[x - samplesPerPixel] : 0;
                int b = previous.IsEmpty ? 0 : previous[x];
                int c = x >= samplesPerPixel && !previous.IsEmpty ? previous[x - samplesPerPixel] : 0;
                row[x] = (byte)(line[x] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new FormatException($"PNG row {y} has unknown filter {filter}"),
                });
            }
        }

        var channels = colorType is 0 or 4 ? 1 : 3;
        if (channels == samplesPerPixel)
        {
            return new DecodedImage(width, height, channels, pixels);
        }

        // Drop alpha.
        var samples = new byte[width * height * channels];
        for (var i = 0; i < width * height; i++)
        {
            pixels.AsSpan(i * samplesPerPixel, channels).CopyTo(samples.AsSpan(i * channels, channels));
        }

        return new DecodedImage(width, height, channels, samples);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
