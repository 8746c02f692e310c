using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.InferenceService.Tests;

/// <summary>Requests built from real dataset images, as raw bytes, floats or PNG files.</summary>
internal static class TestImages
{
    public static Image Uint8(ImageDataset data, int index) => new()
    {
        Uint8Pixels = ByteString.CopyFrom(data.Image(index)),
        Shape = { 1, 28, 28 },
    };

    public static Image Floats(ImageDataset data, int index)
    {
        var image = new Image { FloatPixels = new FloatPixels(), Shape = { 1, 28, 28 } };
        foreach (var b in data.Image(index))
        {
            image.FloatPixels.Values.Add(b / 255f);
        }

        return image;
    }

    /// <summary>An 8-bit PNG (grayscale or RGB) with a Sub filter on every row, so the decoder's filters are exercised.</summary>
    public static Image Png(ImageDataset data, int index, bool rgb = false)
    {
        var gray = data.Image(index).ToArray();
        var channels = rgb ? 3 : 1;
        var raw = new MemoryStream();
        for (var y = 0; y < 28; y++)
        {
            raw.WriteByte(1); // Sub
            for (var x = 0; x < 28 * channels; x++)
            {
                var value = gray[(y * 28) + (x / channels)];
                var left = x >= channels ? gray[(y * 28) + ((x - channels) / channels)] : 0;
                raw.WriteByte((byte)(value - left));
            }
        }

        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(raw.ToArray());
        }

        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, 28);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 28);
        header[8] = 8;
        header[9] = (byte)(rgb ? 2 : 0);
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return new Image { Png = ByteString.CopyFrom(png.ToArray()) };
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typed));
        png.Write(crc);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
