using System.Buffers.Binary;
using Google.Protobuf;
using HardPair.Hosting.Rpc;
using HardPair.Protos.Inference;
using HardPair.Storage.Data;

namespace HardPair.InferenceService.OpenInference;

/// <summary>
/// Reads a <c>ModelInfer</c> request's one input, <c>image</c>, into the model's inputs (float32
/// in [0, 1], C×H×W, one array per image) or into field violations, the same checks as
/// <c>hardpair.v1</c>'s images: <c>UINT8</c> (0–255) or <c>FP32</c> (0–1), shape [N, C, H, W]
/// or [N, H, W] for one channel, as raw contents (little-endian, row-major) or typed contents,
/// never both.
/// </summary>
public static class ImageTensor
{
    public const string Name = "image";

    public static IReadOnlyList<float[]>? Read(ModelInferRequest request, ImageShape expected, int maxImages, RequestViolations violations)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(violations);
        if (request.Inputs.Count != 1)
        {
            violations.Add("inputs", $"must hold exactly one tensor, '{Name}', not {request.Inputs.Count}");
            return null;
        }

        var input = request.Inputs[0];
        if (input.Name != Name)
        {
            violations.Add("inputs[0].name", $"'{input.Name}' is not an input of this model; its one input is '{Name}'");
            return null;
        }

        var raw = request.RawInputContents.Count > 0;
        var typed = input.Contents is { } contents && Count(contents) > 0;
        if (raw && typed)
        {
            violations.Add("raw_input_contents", "is set together with inputs[0].contents; send the tensor one way");
            return null;
        }

        if (raw && request.RawInputContents.Count != 1)
        {
            violations.Add("raw_input_contents", $"holds {request.RawInputContents.Count} entries; it needs one per input (1)");
            return null;
        }

        var bytesPerElement = input.Datatype switch
        {
            Datatypes.Uint8 => 1,
            Datatypes.Fp32 => 4,
            _ => 0,
        };
        if (bytesPerElement == 0)
        {
            violations.Add("inputs[0].datatype", $"'{input.Datatype}' is not accepted; send {Datatypes.Uint8} (0-255) or {Datatypes.Fp32} (0-1)");
            return null;
        }

        if (!CheckShape(input.Shape, expected, maxImages, violations))
        {
            return null;
        }

        var images = (int)input.Shape[0];
        var elements = images * expected.Elements;
        if (raw)
        {
            var bytes = request.RawInputContents[0];
            if (bytes.Length != elements * bytesPerElement)
            {
                violations.Add("raw_input_contents[0]", $"holds {bytes.Length} bytes; shape [{string.Join(", ", input.Shape)}] of {input.Datatype} needs {elements * bytesPerElement}");
                return null;
            }

            return bytesPerElement == 1 ? FromBytes(bytes.Span, images, expected) : FromFloats(Floats(bytes), images, expected, "raw_input_contents[0]", violations);
        }

        return input.Datatype == Datatypes.Uint8
            ? FromTypedBytes(input.Contents, elements, images, expected, violations)
            : FromTypedFloats(input.Contents, elements, images, expected, violations);
    }

    private static bool CheckShape(IList<long> shape, ImageShape expected, int maxImages, RequestViolations violations)
    {
        var matches = shape.Count switch
        {
            4 => shape[1] == expected.Channels && shape[2] == expected.Height && shape[3] == expected.Width,
            3 => expected.Channels == 1 && shape[1] == expected.Height && shape[2] == expected.Width,
            _ => false,
        };
        if (!matches)
        {
            violations.Add("inputs[0].shape", $"is [{string.Join(", ", shape)}]; the model takes [N, {expected.Channels}, {expected.Height}, {expected.Width}]{(expected.Channels == 1 ? $" or [N, {expected.Height}, {expected.Width}]" : "")}");
            return false;
        }

        if (shape[0] < 1 || shape[0] > maxImages)
        {
            violations.Add("inputs[0].shape[0]", $"is {shape[0]}; a call holds 1 to {maxImages} images");
            return false;
        }

        return true;
    }

    private static int Count(InferTensorContents c) =>
        c.BoolContents.Count + c.IntContents.Count + c.Int64Contents.Count + c.UintContents.Count + c.Uint64Contents.Count
        + c.Fp32Contents.Count + c.Fp64Contents.Count + c.BytesContents.Count;

    private static List<float[]> FromBytes(ReadOnlySpan<byte> bytes, int images, ImageShape expected)
    {
        var result = new List<float[]>(images);
        for (var n = 0; n < images; n++)
        {
            var pixels = new float[expected.Elements];
            var slice = bytes.Slice(n * expected.Elements, expected.Elements);
            for (var i = 0; i < pixels.Length; i++)
            {
                pixels[i] = slice[i] / 255f;
            }

            result.Add(pixels);
        }

        return result;
    }

    private static float[] Floats(ByteString bytes)
    {
        var span = bytes.Span;
        var values = new float[span.Length / 4];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(i * 4, 4));
        }

        return values;
    }

    private static List<float[]>? FromFloats(IReadOnlyList<float> values, int images, ImageShape expected, string field, RequestViolations violations)
    {
        for (var i = 0; i < values.Count; i++)
        {
            var v = values[i];
            if (!float.IsFinite(v) || v < 0 || v > 1)
            {
                violations.Add($"{field}[{i}]", float.IsFinite(v) ? $"{v} is outside [0, 1]" : "is not finite (NaN or infinity)");
                return null;
            }
        }

        var result = new List<float[]>(images);
        for (var n = 0; n < images; n++)
        {
            var pixels = new float[expected.Elements];
            for (var i = 0; i < pixels.Length; i++)
            {
                pixels[i] = values[(n * expected.Elements) + i];
            }

            result.Add(pixels);
        }

        return result;
    }

    private static List<float[]>? FromTypedBytes(InferTensorContents contents, int elements, int images, ImageShape expected, RequestViolations violations)
    {
        const string field = "inputs[0].contents.uint_contents";
        var values = contents.UintContents;
        if (!CheckTypedCount(contents, values.Count, elements, field, "uint_contents", violations))
        {
            return null;
        }

        var bytes = new byte[elements];
        for (var i = 0; i < elements; i++)
        {
            if (values[i] > byte.MaxValue)
            {
                violations.Add($"{field}[{i}]", $"{values[i]} is outside [0, 255]");
                return null;
            }

            bytes[i] = (byte)values[i];
        }

        return FromBytes(bytes, images, expected);
    }

    private static List<float[]>? FromTypedFloats(InferTensorContents contents, int elements, int images, ImageShape expected, RequestViolations violations)
    {
        const string field = "inputs[0].contents.fp32_contents";
        return CheckTypedCount(contents, contents.Fp32Contents.Count, elements, field, "fp32_contents", violations)
            ? FromFloats(contents.Fp32Contents, images, expected, field, violations)
            : null;
    }

    /// <summary>The datatype's field holds exactly the shape's elements, and no other field holds any.</summary>
    private static bool CheckTypedCount(InferTensorContents? contents, int count, int elements, string field, string fieldName, RequestViolations violations)
    {
        var all = contents is null ? 0 : Count(contents);
        if (all != count)
        {
            violations.Add("inputs[0].contents", $"holds values outside {fieldName}; this datatype's values go in {fieldName} alone");
            return false;
        }

        if (count != elements)
        {
            violations.Add(field, count == 0 ? "is empty (and raw_input_contents is not set)" : $"holds {count} values; the shape needs {elements}");
            return false;
        }

        return true;
    }
}
