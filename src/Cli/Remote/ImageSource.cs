using Google.Protobuf;
using HardPair.CommandLine;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.Cli.Remote;

/// <summary>The image a command works on: a PNG file, or <c>--dataset-index N</c> of the Fashion-MNIST test split.</summary>
internal static class ImageSource
{
    public static (Image Image, int? Label, string Description) Read(CommandArguments line)
    {
        var index = line.Optional("dataset-index");
        if (index is not null)
        {
            if (line.Positionals.Count > 0)
            {
                throw new UsageException("give either a PNG file or --dataset-index, not both");
            }

            var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
            if (!int.TryParse(index, System.Globalization.CultureInfo.InvariantCulture, out var i) || i < 0 || i >= test.Count)
            {
                throw new UsageException($"--dataset-index must be a whole number from 0 to {test.Count - 1}, not '{index}'");
            }

            var image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(i)), Shape = { test.Shape.Channels, test.Shape.Height, test.Shape.Width } };
            return (image, test.Label(i), $"test image {i} (labelled {test.ClassNames[test.Label(i)]})");
        }

        if (line.Positionals.Count != 1)
        {
            throw new UsageException("give a PNG file or --dataset-index N");
        }

        var path = line.Positionals[0];
        if (!File.Exists(path))
        {
            throw new UsageException($"{path}: no such file");
        }

        return (new Image { Png = ByteString.CopyFrom(File.ReadAllBytes(path)) }, null, path);
    }

    /// <summary>uint8 pixels of a one-channel image, for feedback: the PNG is decoded here (RGB → gray).</summary>
    public static byte[] GrayPixels(Image image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.DataCase == Image.DataOneofCase.Uint8Pixels)
        {
            return image.Uint8Pixels.ToByteArray();
        }

        DecodedImage decoded;
        try
        {
            decoded = PngDecoder.Decode(image.Png.Span, 1 << 22);
        }
        catch (FormatException ex)
        {
            throw new UsageException($"the PNG cannot be read: {ex.Message}");
        }

        if (decoded.Channels == 1)
        {
            return decoded.Samples;
        }

        var gray = new byte[decoded.Width * decoded.Height];
        for (var i = 0; i < gray.Length; i++)
        {
            gray[i] = (byte)Math.Round((0.299 * decoded.Samples[i * 3]) + (0.587 * decoded.Samples[(i * 3) + 1]) + (0.114 * decoded.Samples[(i * 3) + 2]));
        }

        return gray;
    }
}
