using System.Reflection;
using Grpc.Core;
using HardPair.Hosting.Rpc;
using HardPair.InferenceService.Models;
using HardPair.InferenceService.Options;
using HardPair.InferenceService.Services;
using HardPair.Protos.Inference;
using HardPair.Protos.V1;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.OpenInference;

/// <summary>
/// The served model as the Open Inference Protocol sees it, for both its transports (gRPC and
/// REST): one model under <see cref="OpenInferenceOptions.ModelName"/>, whose one version is the
/// serving checkpoint's id. Inference reads the <c>image</c> tensor, goes down the same path as
/// <c>hardpair.v1</c> (<see cref="InferenceCalls"/>: admission, batcher, signals, probe, metrics)
/// and writes the selected outputs.
/// </summary>
public sealed class OpenInferenceModel(InferenceCalls calls, ModelHost host, IOptions<OpenInferenceOptions> options)
{
    public const string ServerName = "hardpair";

    /// <summary>What <c>ServerMetadata</c> lists: Triton's classification extension and request parameters.</summary>
    public static readonly IReadOnlyList<string> Extensions = ["classification", "parameters"];

    private static readonly string Version =
        typeof(OpenInferenceModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    public string Name { get; } = options.Value.ModelName;

    /// <summary>Ready once a verified checkpoint serves; the same fact as the <c>grpc.health.v1</c> overall status.</summary>
    public bool ServerReady => host.Current is not null;

    public static ServerMetadataResponse ServerMetadata() =>
        new() { Name = ServerName, Version = Version, Extensions = { Extensions } };

    /// <summary>False until a checkpoint serves; NOT_FOUND for another model, or a version that is not the serving one.</summary>
    public bool ModelReady(string name, string version)
    {
        Resolve(name, version, out var serving);
        return serving is not null;
    }

    public ModelMetadataResponse ModelMetadata(string name, string version)
    {
        Resolve(name, version, out var serving);
        var model = serving ?? throw new RpcException(new Status(StatusCode.Unavailable, $"model '{Name}' has no checkpoint loaded yet; retry shortly"));
        var shape = model.InputShape;
        var metadata = new ModelMetadataResponse
        {
            Name = Name,
            Versions = { model.Version },
            Platform = "hardpair_torchsharp",
            Inputs = { new ModelMetadataResponse.Types.TensorMetadata { Name = ImageTensor.Name, Datatype = Datatypes.Uint8, Shape = { -1, shape.Channels, shape.Height, shape.Width } } },
        };
        foreach (var output in OutputTensors.All(model.ClassNames.Count))
        {
            metadata.Outputs.Add(new ModelMetadataResponse.Types.TensorMetadata { Name = output.Name, Datatype = output.Datatype, Shape = { -1 }, });
            metadata.Outputs[^1].Shape.AddRange(output.Dims);
        }

        return metadata;
    }

    /// <summary>Triton's model configuration: batching limits, tensors (without the batch dimension) and the dynamic batcher's settings.</summary>
    public ModelConfig ModelConfig(string name, string version)
    {
        var metadata = ModelMetadata(name, version);
        var settings = calls.Settings;
        var config = new ModelConfig
        {
            Name = Name,
            Platform = metadata.Platform,
            Backend = ServerName,
            MaxBatchSize = settings.MaxRequestsPerBatchCall,
            DynamicBatching = new ModelDynamicBatching
            {
                PreferredBatchSize = { settings.MaxBatchSize },
                MaxQueueDelayMicroseconds = (ulong)(settings.MaxQueueDelay.Ticks / TimeSpan.TicksPerMicrosecond),
            },
        };
        var input = metadata.Inputs[0];
        config.Input.Add(new ModelInput { Name = input.Name, DataType = DataType.TypeUint8, Format = ModelInput.Types.Format.Nchw, Dims = { input.Shape.Skip(1) } });
        foreach (var output in metadata.Outputs)
        {
            config.Output.Add(new ModelOutput
            {
                Name = output.Name,
                DataType = output.Datatype switch
                {
                    Datatypes.Fp32 => DataType.TypeFp32,
                    Datatypes.Int32 => DataType.TypeInt32,
                    _ => DataType.TypeBool,
                },
                Dims = { output.Shape.Count > 1 ? output.Shape.Skip(1) : [1] },
            });
        }

        return config;
    }

    /// <summary>
    /// Validates the whole request before anything reaches the model (INVALID_ARGUMENT naming the
    /// field), admits its N images, classifies them in one batcher call (one version answers all)
    /// and writes the outputs: raw when the input came raw, unless <c>raw_output</c> says otherwise.
    /// </summary>
    public async Task<ModelInferResponse> InferAsync(ModelInferRequest request, HttpContext http, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        Resolve(request.ModelName, request.ModelVersion, out var serving);
        var model = serving ?? calls.CurrentModel();
        var violations = new RequestViolations();
        if (request.Id.Length > 200)
        {
            violations.Add("id", "must be at most 200 characters");
        }

        var probe = Parameters.Flag(request, Parameters.RobustnessProbe, false, violations);
        var raw = Parameters.Flag(request, Parameters.RawOutput, request.RawInputContents.Count > 0, violations);
        var images = ImageTensor.Read(request, model.InputShape, calls.Settings.MaxRequestsPerBatchCall, violations);
        var outputs = OutputTensors.Select(request, model.ClassNames.Count, probe, violations);
        violations.ThrowIfAny();

        calls.Admit(http, images!.Count);
        var results = await calls.InferAsync(images, model, cancellationToken);
        var answered = results[0].Model;
        if (request.ModelVersion.Length > 0 && answered.Version != request.ModelVersion)
        {
            throw new RpcException(new Status(StatusCode.Aborted, $"version '{request.ModelVersion}' of model '{Name}' stopped serving during the call ('{answered.Version}' serves now); ask again"));
        }

        // Top-k only as deep as the classification extension asks: its strings are written from it.
        var topK = outputs!.Select(o => o.Classification).DefaultIfEmpty(0).Max();
        var answers = new ClassifyResponse[results.Count];
        for (var i = 0; i < results.Count; i++)
        {
            answers[i] = await calls.AnswerAsync(images[i], results[i], topK, probe, cancellationToken);
        }

        var response = new ModelInferResponse { ModelName = Name, ModelVersion = answered.Version, Id = request.Id };
        OutputTensors.Write(response, outputs!, answers, raw);
        return response;
    }

    /// <summary>The serving model when <paramref name="name"/> and <paramref name="version"/> name it (null while none serves); NOT_FOUND otherwise.</summary>
    private void Resolve(string name, string version, out ModelDescription? serving)
    {
        if (name != Name)
        {
            throw RequestViolations.NotFound($"model '{name}' is not served here; this server serves '{Name}'");
        }

        serving = host.Current;
        if (version.Length > 0 && version != serving?.Version)
        {
            throw RequestViolations.NotFound(serving is null
                ? $"version '{version}' of model '{Name}' is not serving: no checkpoint is loaded yet"
                : $"version '{version}' of model '{Name}' is not serving; '{serving.Version}' is");
        }
    }
}
