using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;
using HardPair.Hosting.Rpc;
using HardPair.Protos.Inference;
using HardPair.Protos.V1;

namespace HardPair.InferenceService.OpenInference;

/// <summary>The protocol's datatype names that HardPair reads or writes.</summary>
public static class Datatypes
{
    public const string Uint8 = "UINT8";
    public const string Fp32 = "FP32";
    public const string Int32 = "INT32";
    public const string Bool = "BOOL";
    public const string Bytes = "BYTES";
}

/// <summary>One output tensor the model produces: its name, datatype, dimensions after the batch one, and whether it needs the robustness probe.</summary>
public sealed record OutputTensor(string Name, string Datatype, long[] Dims, bool NeedsProbe);

/// <summary>An output a request asked for; <see cref="Classification"/> &gt; 0 when it asked for the classification extension's top-k strings.</summary>
public sealed record RequestedOutput(OutputTensor Tensor, int Classification);

/// <summary>
/// The outputs of the <c>classifier</c> model and how a request selects them: by default every
/// output except the probe's (which come with the <c>robustness_probe</c> parameter); a request
/// that names outputs gets those, in its order. <c>probabilities</c> with the parameter
/// <c>classification</c> = k is Triton's classification extension: <c>BYTES [N, k]</c>,
/// <c>"score:index:label"</c>, best first.
/// </summary>
public static class OutputTensors
{
    public const string Probabilities = "probabilities";
    public const string Label = "label";
    public const string Confidence = "confidence";
    public const string HardPair = "hard_pair";
    public const string PairHardness = "pair_hardness";
    public const string AmbiguityScore = "ambiguity_score";
    public const string Ambiguous = "ambiguous";
    public const string ProbeLabelFlips = "probe_label_flips";
    public const string ProbeAdversarialLabel = "probe_adversarial_label";
    public const string ClassificationParameter = "classification";

    /// <summary>Every output, in the default order; <c>classes</c> sizes the probabilities.</summary>
    public static IReadOnlyList<OutputTensor> All(int classes) =>
    [
        new(Probabilities, Datatypes.Fp32, [classes], false),
        new(Label, Datatypes.Int32, [], false),
        new(Confidence, Datatypes.Fp32, [], false),
        new(HardPair, Datatypes.Int32, [2], false),
        new(PairHardness, Datatypes.Fp32, [], false),
        new(AmbiguityScore, Datatypes.Fp32, [], false),
        new(Ambiguous, Datatypes.Bool, [], false),
        new(ProbeLabelFlips, Datatypes.Bool, [], true),
        new(ProbeAdversarialLabel, Datatypes.Int32, [], true),
    ];

    /// <summary>The outputs a request asked for, or null with its problems added to <paramref name="violations"/>.</summary>
    public static IReadOnlyList<RequestedOutput>? Select(ModelInferRequest request, int classes, bool probe, RequestViolations violations)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(violations);
        var all = All(classes);
        if (request.Outputs.Count == 0)
        {
            return all.Where(t => probe || !t.NeedsProbe).Select(t => new RequestedOutput(t, 0)).ToList();
        }

        var selected = new List<RequestedOutput>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Outputs.Count; i++)
        {
            var asked = request.Outputs[i];
            var field = $"outputs[{i}]";
            var tensor = all.FirstOrDefault(t => t.Name == asked.Name);
            if (tensor is null)
            {
                violations.Add($"{field}.name", $"'{asked.Name}' is not an output of this model; its outputs: {string.Join(", ", all.Select(t => t.Name))}");
                continue;
            }

            if (!seen.Add(asked.Name))
            {
                violations.Add($"{field}.name", $"'{asked.Name}' is asked for twice");
                continue;
            }

            if (tensor.NeedsProbe && !probe)
            {
                violations.Add($"{field}.name", $"'{asked.Name}' needs the request parameter robustness_probe = true");
                continue;
            }

            var k = 0;
            foreach (var (name, value) in asked.Parameters)
            {
                if (name == ClassificationParameter && tensor.Name == Probabilities && Parameters.Integer(value) is { } n && n >= 1 && n <= classes)
                {
                    k = (int)n;
                }
                else if (name == ClassificationParameter)
                {
                    violations.Add($"{field}.parameters[{name}]", tensor.Name == Probabilities
                        ? $"must be an integer in [1, {classes}]"
                        : $"applies to '{Probabilities}' only");
                }
                else if (name != Parameters.BinaryData)
                {
                    violations.Add($"{field}.parameters[{name}]", $"is not a parameter of an output; known: {ClassificationParameter}, {Parameters.BinaryData}");
                }
            }

            selected.Add(new RequestedOutput(tensor, k));
        }

        return selected;
    }

    /// <summary>
    /// Writes the outputs for <paramref name="answers"/> (one per image, in order) into
    /// <paramref name="response"/>: typed contents, or <c>raw_output_contents</c> when
    /// <paramref name="raw"/> (little-endian; BYTES elements each prefixed by a 4-byte length).
    /// </summary>
    public static void Write(ModelInferResponse response, IReadOnlyList<RequestedOutput> outputs, IReadOnlyList<ClassifyResponse> answers, bool raw)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(answers);
        foreach (var output in outputs)
        {
            var tensor = output.Tensor;
            var contents = new InferTensorContents();
            var shape = new List<long> { answers.Count };
            string datatype;
            if (output.Classification > 0)
            {
                datatype = Datatypes.Bytes;
                shape.Add(output.Classification);
                foreach (var answer in answers)
                {
                    // The answer's top-k is at least as deep as the deepest classification asked for.
                    foreach (var score in answer.TopK.Take(output.Classification))
                    {
                        contents.BytesContents.Add(ByteString.CopyFromUtf8(string.Create(
                            CultureInfo.InvariantCulture, $"{score.Probability:F6}:{score.Label}:{score.ClassName}")));
                    }
                }
            }
            else
            {
                datatype = tensor.Datatype;
                shape.AddRange(tensor.Dims);
                foreach (var answer in answers)
                {
                    Append(contents, tensor.Name, answer);
                }
            }

            var written = new ModelInferResponse.Types.InferOutputTensor { Name = tensor.Name, Datatype = datatype, Shape = { shape } };
            if (raw)
            {
                response.RawOutputContents.Add(Serialize(contents, datatype));
            }
            else
            {
                written.Contents = contents;
            }

            response.Outputs.Add(written);
        }
    }

    private static void Append(InferTensorContents contents, string name, ClassifyResponse answer)
    {
        var pair = answer.HardPair;
        var probe = answer.Robustness;
        switch (name)
        {
            case Probabilities: contents.Fp32Contents.AddRange(answer.Probabilities); break;
            case Label: contents.IntContents.Add(answer.Label); break;
            case Confidence: contents.Fp32Contents.Add(answer.Confidence); break;
            case HardPair: contents.IntContents.Add(pair.First.Label); contents.IntContents.Add(pair.Second.Label); break;
            case PairHardness: contents.Fp32Contents.Add(pair.PairHardness); break;
            case AmbiguityScore: contents.Fp32Contents.Add(pair.AmbiguityScore); break;
            case Ambiguous: contents.BoolContents.Add(pair.Ambiguous); break;
            case ProbeLabelFlips: contents.BoolContents.Add(probe is { Completed: true, LabelFlips: true }); break;
            case ProbeAdversarialLabel: contents.IntContents.Add(probe is { Completed: true } ? probe.AdversarialLabel : -1); break;
            default: throw new ArgumentOutOfRangeException(nameof(name), name, "not an output");
        }
    }

    private static ByteString Serialize(InferTensorContents contents, string datatype)
    {
        switch (datatype)
        {
            case Datatypes.Fp32:
            {
                var bytes = new byte[contents.Fp32Contents.Count * 4];
                for (var i = 0; i < contents.Fp32Contents.Count; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), contents.Fp32Contents[i]);
                }

                return ByteString.CopyFrom(bytes);
            }

            case Datatypes.Int32:
            {
                var bytes = new byte[contents.IntContents.Count * 4];
                for (var i = 0; i < contents.IntContents.Count; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), contents.IntContents[i]);
                }

                return ByteString.CopyFrom(bytes);
            }

            case Datatypes.Bool:
                return ByteString.CopyFrom(contents.BoolContents.Select(b => b ? (byte)1 : (byte)0).ToArray());
            default:
            {
                using var stream = new MemoryStream();
                Span<byte> length = stackalloc byte[4];
                foreach (var element in contents.BytesContents)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(length, element.Length);
                    stream.Write(length);
                    stream.Write(element.Span);
                }

                return ByteString.CopyFrom(stream.ToArray());
            }
        }
    }
}

/// <summary>The request parameters HardPair reads, and how their values are taken.</summary>
public static class Parameters
{
    /// <summary>Request: run the robustness probe on every image (adds the probe outputs).</summary>
    public const string RobustnessProbe = "robustness_probe";

    /// <summary>Request: answer in <c>raw_output_contents</c> (true) or typed contents (false); by default as the input came.</summary>
    public const string RawOutput = "raw_output";

    /// <summary>Triton's per-output binary flag (REST): accepted and ignored, HardPair's REST answers are JSON.</summary>
    public const string BinaryData = "binary_data";

    public static long? Integer(InferParameter value) => value.ParameterChoiceCase switch
    {
        InferParameter.ParameterChoiceOneofCase.Int64Param => value.Int64Param,
        InferParameter.ParameterChoiceOneofCase.Uint64Param when value.Uint64Param <= long.MaxValue => (long)value.Uint64Param,
        InferParameter.ParameterChoiceOneofCase.DoubleParam when value.DoubleParam == Math.Floor(value.DoubleParam) && Math.Abs(value.DoubleParam) < 1e15 => (long)value.DoubleParam,
        _ => null,
    };

    /// <summary>A bool parameter: absent = <paramref name="absent"/>; not a bool: a violation.</summary>
    public static bool Flag(ModelInferRequest request, string name, bool absent, RequestViolations violations)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(violations);
        if (!request.Parameters.TryGetValue(name, out var value))
        {
            return absent;
        }

        if (value.ParameterChoiceCase == InferParameter.ParameterChoiceOneofCase.BoolParam)
        {
            return value.BoolParam;
        }

        violations.Add($"parameters[{name}]", "must be a bool");
        return absent;
    }
}
