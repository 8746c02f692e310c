using HardPair.Hosting.Rpc;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.InferenceService.Input;

/// <summary>
/// Turns a request's <see cref="Image"/> into the model's input (float32 in [0, 1], C×H×W), or
/// into field violations: shape, byte or value count, finiteness, range and PNG decoding.
/// </summary>
public static class ImageInput
{
    public const int MaxElements = 1 << 22;

    /// <summary>The pixels, or null with every problem added to <paramref name="violations"/> under <paramref name="field"/>.</summary>
    public static float[]? Read(Image? image, ImageShape expected, string field, RequestViolations violations)
    {
        ArgumentNullException.ThrowIfNull(violations);
        if (image is null || image.DataCase == Image.DataOneofCase.None)
        {
            violations.Add(field, "an image is required: uint8_pixels, float_pixels or png");
            return null;
        }

        switch (image.DataCase)
        {
            case Image.DataOneofCase.Png:
                return ReadPng(image.Png.Span, expected, $"{field}.png", violations);
            case Image.DataOneofCase.Uint8Pixels:
                if (!CheckShape(image, expected, field, violations) || !CheckCount(image.Uint8Pixels.Length, expected, $"{field}.uint8_pixels", "bytes", violations))
                {
                    return null;
                }

                var bytes = image.Uint8Pixels.Span;
                var pixels = new float[bytes.Length];
                for (var i = 0; i < bytes.Length; i++)
                {
                    pixels[i] = bytes[i] / 255f;
                }

                return pixels;
            default:
                var values = image.FloatPixels?.Values;
                if (!CheckShape(image, expected, field, violations) || !CheckCount(values?.Count ?? 0, expected, $"{field}.float_pixels.values", "values", violations))
                {
                    return null;
                }

                var floats = values!.ToArray();
                var bad = Array.FindIndex(floats, v => !float.IsFinite(v) || v < 0 || v > 1);
                if (bad >= 0)
                {
                    violations.Add($"{field}.float_pixels.values[{bad}]", float.IsFinite(floats[bad]) ? $"{floats[bad]} is outside [0, 1]" : "is not finite (NaN or infinity)");
                    return null;
                }

                return floats;
        }
    }

    private static bool CheckShape(Image image, ImageShape expected, string field, RequestViolations violations)
    {
        var shape = image.Shape;
        var matches = shape.Count switch
        {
            3 => shape[0] == expected.Channels && shape[1] == expected.Height && shape[2] == expected.Width,
            2 => expected.Channels == 1 && shape[0] == expected.Height && shape[1] == expected.Width,
            _ => false,
        };
        if (!matches)
        {
            violations.Add($"{field}.shape", $"is [{string.Join(", ", shape)}]; the model takes [{expected.Channels}, {expected.Height}, {expected.Width}]{(expected.Channels == 1 ? $" or [{expected.Height}, {expected.Width}]" : "")}");
        }

        return matches;
    }

    private static bool CheckCount(int count, ImageShape expected, string field, string unit, RequestViolations violations)
    {
        if (count == expected.Elements)
        {
            return true;
        }

        violations.Add(field, count == 0 ? "is empty" : $"holds {count} {unit}; the shape needs {expected.Elements}");
        return false;
    }

    private static float[]? ReadPng(ReadOnlySpan<byte> png, ImageShape expected, string field, RequestViolations violations)
    {
        if (png.IsEmpty)
        {
            violations.Add(field, "is empty");
            return null;
        }

        DecodedImage decoded;
        try
        {
            decoded = PngDecoder.Decode(png, MaxElements);
        }
        catch (FormatException ex)
        {
            violations.Add(field, ex.Message);
            return null;
        }

        if (decoded.Width != expected.Width || decoded.Height != expected.Height)
        {
            violations.Add(field, $"is {decoded.Width}x{decoded.Height}; the model takes {expected.Width}x{expected.Height}");
            return null;
        }

        var plane = expected.Height * expected.Width;
        var pixels = new float[expected.Elements];
        for (var i = 0; i < plane; i++)
        {
            for (var c = 0; c < expected.Channels; c++)
            {
                pixels[(c * plane) + i] = Sample(decoded, i, c, expected.Channels) / 255f;
            }
        }

        return pixels;
    }

    /// <summary>Channel c of pixel i, converting gray ↔ RGB (ITU-R BT.601 luma for RGB → gray).</summary>
    private static float Sample(DecodedImage image, int pixel, int channel, int channels)
    {
        var s = image.Samples;
        return (image.Channels, channels) switch
        {
            (1, _) => s[pixel],
            (3, 1) => (0.299f * s[pixel * 3]) + (0.587f * s[(pixel * 3) + 1]) + (0.114f * s[(pixel * 3) + 2]),
            _ => s[(pixel * 3) + channel],
        };
    }
}
