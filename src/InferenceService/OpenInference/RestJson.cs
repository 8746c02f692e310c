using System.Text.Json;
using Google.Protobuf;
using HardPair.Protos.Inference;

namespace HardPair.InferenceService.OpenInference;

/// <summary>
/// The REST twin's JSON (the specification's <c>inference_rest.md</c>) to and from the protocol's
/// messages, so both transports share one <see cref="OpenInferenceModel"/>. A tensor's
/// <c>data</c> is a flat or nested list in row-major order; parameters are JSON bools, numbers
/// or strings.
/// </summary>
public static class RestJson
{
    /// <summary>A body that is not the specification's JSON: 400 with this message.</summary>
    public sealed class BadBodyException(string message) : Exception(message);

    public static ModelInferRequest InferRequest(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new BadBodyException("the body must be a JSON object with \"inputs\"");
        }

        var request = new ModelInferRequest();
        if (body.TryGetProperty("id", out var id))
        {
            request.Id = id.ValueKind == JsonValueKind.String ? id.GetString()! : throw new BadBodyException("id must be a string");
        }

        ReadParameters(body, "parameters", request.Parameters);
        if (!body.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array)
        {
            throw new BadBodyException("inputs must be a list of tensors");
        }

        var i = 0;
        foreach (var input in inputs.EnumerateArray())
        {
            request.Inputs.Add(InputTensor(input, $"inputs[{i++}]"));
        }

        if (body.TryGetProperty("outputs", out var outputs))
        {
            if (outputs.ValueKind != JsonValueKind.Array)
            {
                throw new BadBodyException("outputs must be a list");
            }

            i = 0;
            foreach (var output in outputs.EnumerateArray())
            {
                var field = $"outputs[{i++}]";
                var requested = new ModelInferRequest.Types.InferRequestedOutputTensor { Name = String(output, "name", field) };
                ReadParameters(output, $"{field}.parameters", requested.Parameters);
                request.Outputs.Add(requested);
            }
        }

        return request;
    }

    public static Dictionary<string, object> InferResponse(ModelInferResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var outputs = response.Outputs.Select(output => new Dictionary<string, object>
        {
            ["name"] = output.Name,
            ["datatype"] = output.Datatype,
            ["shape"] = output.Shape.ToArray(),
            ["data"] = Data(output.Contents, output.Datatype),
        }).ToList();
        var body = new Dictionary<string, object> { ["model_name"] = response.ModelName, ["model_version"] = response.ModelVersion };
        if (response.Id.Length > 0)
        {
            body["id"] = response.Id;
        }

        body["outputs"] = outputs;
        return body;
    }

    public static Dictionary<string, object> ServerMetadata(ServerMetadataResponse metadata) => new()
    {
        ["name"] = metadata.Name,
        ["version"] = metadata.Version,
        ["extensions"] = metadata.Extensions.ToArray(),
    };

    public static Dictionary<string, object> ModelMetadata(ModelMetadataResponse metadata)
    {
        static object Tensors(IEnumerable<ModelMetadataResponse.Types.TensorMetadata> tensors) =>
            tensors.Select(t => new Dictionary<string, object> { ["name"] = t.Name, ["datatype"] = t.Datatype, ["shape"] = t.Shape.ToArray() }).ToList();
        return new()
        {
            ["name"] = metadata.Name,
            ["versions"] = metadata.Versions.ToArray(),
            ["platform"] = metadata.Platform,
            ["inputs"] = Tensors(metadata.Inputs),
            ["outputs"] = Tensors(metadata.Outputs),
        };
    }

    private static ModelInferRequest.Types.InferInputTensor InputTensor(JsonElement input, string field)
    {
        if (input.ValueKind != JsonValueKind.Object)
        {
            throw new BadBodyException($"{field} must be an object");
        }

        var tensor = new ModelInferRequest.Types.InferInputTensor
        {
            Name = String(input, "name", field),
            Datatype = String(input, "datatype", field),
        };
        if (!input.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array)
        {
            throw new BadBodyException($"{field}.shape must be a list of integers");
        }

        foreach (var dim in shape.EnumerateArray())
        {
            tensor.Shape.Add(dim.ValueKind == JsonValueKind.Number && dim.TryGetInt64(out var d) ? d : throw new BadBodyException($"{field}.shape must be a list of integers"));
        }

        ReadParameters(input, $"{field}.parameters", tensor.Parameters);
        if (!input.TryGetProperty("data", out var data))
        {
            throw new BadBodyException($"{field}.data is required");
        }

        tensor.Contents = new InferTensorContents();
        var index = 0;
        Flatten(data, tensor.Datatype, tensor.Contents, $"{field}.data", ref index);
        return tensor;
    }

    /// <summary>Appends a flat or nested list's elements, row-major, to the datatype's contents field.</summary>
    private static void Flatten(JsonElement data, string datatype, InferTensorContents contents, string field, ref int index)
    {
        if (data.ValueKind == JsonValueKind.Array)
        {
            foreach (var element in data.EnumerateArray())
            {
                Flatten(element, datatype, contents, field, ref index);
            }

            return;
        }

        var at = $"{field}[{index++}]";
        var ok = datatype switch
        {
            "BOOL" => Add(data.ValueKind is JsonValueKind.True or JsonValueKind.False, () => contents.BoolContents.Add(data.GetBoolean())),
            "INT8" or "INT16" or "INT32" => Add(data.ValueKind == JsonValueKind.Number && data.TryGetInt32(out _), () => contents.IntContents.Add(data.GetInt32())),
            "INT64" => Add(data.ValueKind == JsonValueKind.Number && data.TryGetInt64(out _), () => contents.Int64Contents.Add(data.GetInt64())),
            "UINT8" or "UINT16" or "UINT32" => Add(data.ValueKind == JsonValueKind.Number && data.TryGetUInt32(out _), () => contents.UintContents.Add(data.GetUInt32())),
            "UINT64" => Add(data.ValueKind == JsonValueKind.Number && data.TryGetUInt64(out _), () => contents.Uint64Contents.Add(data.GetUInt64())),
            "FP32" => Add(data.ValueKind == JsonValueKind.Number && data.TryGetSingle(out _), () => contents.Fp32Contents.Add(data.GetSingle())),
            "FP64" => Add(data.ValueKind == JsonValueKind.Number && data.TryGetDouble(out _), () => contents.Fp64Contents.Add(data.GetDouble())),
            "BYTES" => Add(data.ValueKind == JsonValueKind.String, () => contents.BytesContents.Add(ByteString.CopyFromUtf8(data.GetString()!))),
            _ => throw new BadBodyException($"{field[..field.LastIndexOf('.')]}.datatype '{datatype}' is not a datatype of the protocol"),
        };
        if (!ok)
        {
            throw new BadBodyException($"{at} is {data.GetRawText()}, not a {datatype} value");
        }
    }

    private static bool Add(bool valid, Action add)
    {
        if (valid)
        {
            add();
        }

        return valid;
    }

    private static List<object> Data(InferTensorContents contents, string datatype) => datatype switch
    {
        Datatypes.Fp32 => contents.Fp32Contents.Select(v => (object)v).ToList(),
        Datatypes.Int32 => contents.IntContents.Select(v => (object)v).ToList(),
        Datatypes.Bool => contents.BoolContents.Select(v => (object)v).ToList(),
        _ => contents.BytesContents.Select(v => (object)v.ToStringUtf8()).ToList(),
    };

    private static string String(JsonElement element, string property, string field) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new BadBodyException($"{field}.{property} must be a string");

    private static void ReadParameters(JsonElement element, string field, Google.Protobuf.Collections.MapField<string, InferParameter> parameters)
    {
        if (!element.TryGetProperty("parameters", out var values))
        {
            return;
        }

        if (values.ValueKind != JsonValueKind.Object)
        {
            throw new BadBodyException($"{field} must be an object");
        }

        foreach (var property in values.EnumerateObject())
        {
            var value = property.Value;
            parameters[property.Name] = value.ValueKind switch
            {
                JsonValueKind.True or JsonValueKind.False => new InferParameter { BoolParam = value.GetBoolean() },
                JsonValueKind.String => new InferParameter { StringParam = value.GetString() },
                JsonValueKind.Number when value.TryGetInt64(out var n) => new InferParameter { Int64Param = n },
                JsonValueKind.Number => new InferParameter { DoubleParam = value.GetDouble() },
                _ => throw new BadBodyException($"{field}.{property.Name} must be a bool, a number or a string"),
            };
        }
    }
}
