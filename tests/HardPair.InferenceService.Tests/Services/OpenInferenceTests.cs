using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Health.V1;
using Grpc.Net.Client;
using HardPair.Protos.Inference;
using HardPair.Protos.V1;
using HardPair.Storage.Data;
using HardPair.Testing;
using static HardPair.InferenceService.Tests.TestImages;

namespace HardPair.InferenceService.Tests.Services;

/// <summary>The Open Inference Protocol on real Kestrel with a real trained checkpoint: tensors, parameters, bad requests, readiness, swaps, REST.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Server)]
public sealed class OpenInferenceTests(TrainedCheckpointFixture checkpoint) : IClassFixture<TrainedCheckpointFixture>, IDisposable
{
    private const string Model = "classifier";
    private readonly TempDirectory store = new();

    public void Dispose() => store.Dispose();

    [Fact]
    public async Task ModelInfer_RawUint8AndTypedFp32Batches_AgreeWithClassify_ImageByImage()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        var classifier = new Classifier.ClassifierClient(host.Channel);
        const int n = 12;

        var raw = await oip.ModelInferAsync(RawRequest(checkpoint.Test, 0, n, "raw-1"), cancellationToken: TestContext.Current);
        var typed = await oip.ModelInferAsync(TypedFp32Request(checkpoint.Test, 0, n), cancellationToken: TestContext.Current);

        Assert.Equal(Model, raw.ModelName);
        Assert.Equal(checkpoint.Version, raw.ModelVersion);
        Assert.Equal("raw-1", raw.Id);
        Assert.Equal(["probabilities", "label", "confidence", "hard_pair", "pair_hardness", "ambiguity_score", "ambiguous"], raw.Outputs.Select(o => o.Name));
        Assert.Equal(raw.Outputs.Count, raw.RawOutputContents.Count);
        Assert.All(raw.Outputs, o => Assert.Null(o.Contents));
        Assert.Empty(typed.RawOutputContents);
        Assert.Equal([n, 10], Output(raw, "probabilities").Shape);
        Assert.Equal([n, 2], Output(raw, "hard_pair").Shape);
        var rawTensors = Decode(raw);
        var typedTensors = Decode(typed);
        for (var i = 0; i < n; i++)
        {
            var reference = await classifier.ClassifyAsync(new ClassifyRequest { Image = Uint8(checkpoint.Test, i) }, cancellationToken: TestContext.Current);
            foreach (var tensors in new[] { rawTensors, typedTensors })
            {
                Assert.Equal(reference.Label, (int)tensors["label"][i]);
                Assert.Equal(reference.Confidence, tensors["confidence"][i], 1e-5);
                for (var c = 0; c < 10; c++)
                {
                    Assert.Equal(reference.Probabilities[c], tensors["probabilities"][(i * 10) + c], 1e-5);
                }

                Assert.Equal(reference.HardPair.First.Label, (int)tensors["hard_pair"][i * 2]);
                Assert.Equal(reference.HardPair.Second.Label, (int)tensors["hard_pair"][(i * 2) + 1]);
                Assert.Equal(reference.HardPair.PairHardness, tensors["pair_hardness"][i], 1e-5);
                Assert.Equal(reference.HardPair.AmbiguityScore, tensors["ambiguity_score"][i], 1e-5);
                Assert.Equal(reference.HardPair.Ambiguous ? 1f : 0f, tensors["ambiguous"][i]);
            }
        }
    }

    [Fact]
    public async Task ModelInfer_NamedOutputs_ComeInTheRequestsOrder_WithClassificationStringsAndProbeOutputs()
    {
        const int Depth = 5; // deeper than Classify's default top-3
        checkpoint.CopyInto(store.Path);
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        var request = RawRequest(checkpoint.Test, 5, 3, "");
        request.Parameters["robustness_probe"] = new InferParameter { BoolParam = true };
        request.Parameters["raw_output"] = new InferParameter { BoolParam = false };
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "probe_label_flips" });
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "probabilities", Parameters = { ["classification"] = new InferParameter { Int64Param = Depth } } });
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "label" });
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "probe_adversarial_label" });

        var response = await oip.ModelInferAsync(request, cancellationToken: TestContext.Current);
        var all = Decode(await oip.ModelInferAsync(RawRequest(checkpoint.Test, 5, 3, ""), cancellationToken: TestContext.Current));

        Assert.Equal(["probe_label_flips", "probabilities", "label", "probe_adversarial_label"], response.Outputs.Select(o => o.Name));
        Assert.Empty(response.RawOutputContents);
        var classification = response.Outputs[1];
        Assert.Equal("BYTES", classification.Datatype);
        Assert.Equal([3, Depth], classification.Shape);
        for (var i = 0; i < 3; i++)
        {
            var strings = classification.Contents.BytesContents.Skip(i * Depth).Take(Depth).Select(b => b.ToStringUtf8().Split(':', 3)).ToList();
            Assert.Equal(response.Outputs[2].Contents.IntContents[i], int.Parse(strings[0][1], CultureInfo.InvariantCulture));
            foreach (var parts in strings)
            {
                var label = int.Parse(parts[1], CultureInfo.InvariantCulture);
                Assert.Equal(all["probabilities"][(i * 10) + label], float.Parse(parts[0], CultureInfo.InvariantCulture), 1e-5);
                Assert.Equal(checkpoint.Test.ClassNames[label], parts[2]);
            }

            var scores = strings.Select(p => float.Parse(p[0], CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(scores.OrderDescending(), scores);
        }

        Assert.Equal("BOOL", response.Outputs[0].Datatype);
        Assert.Equal(3, response.Outputs[0].Contents.BoolContents.Count);
        Assert.All(response.Outputs[3].Contents.IntContents, label => Assert.InRange(label, 0, 9));
        Assert.Equal(
            response.Outputs[0].Contents.BoolContents,
            response.Outputs[3].Contents.IntContents.Zip(response.Outputs[2].Contents.IntContents, (adversarial, label) => adversarial != label));
    }

    public static TheoryData<string, string> BadRequests() => new()
    {
        { "no input", "inputs" },
        { "two inputs", "inputs" },
        { "unknown input", "inputs[0].name" },
        { "wrong datatype", "inputs[0].datatype" },
        { "wrong shape", "inputs[0].shape" },
        { "colour shape", "inputs[0].shape" },
        { "zero images", "inputs[0].shape[0]" },
        { "too many images", "inputs[0].shape[0]" },
        { "raw too short", "raw_input_contents[0]" },
        { "raw and typed", "raw_input_contents" },
        { "typed count", "inputs[0].contents.fp32_contents" },
        { "typed in the wrong field", "inputs[0].contents" },
        { "uint8 above 255", "inputs[0].contents.uint_contents[3]" },
        { "NaN", "inputs[0].contents.fp32_contents[0]" },
        { "raw infinity", "raw_input_contents[0][1]" },
        { "above 1", "inputs[0].contents.fp32_contents[2]" },
        { "unknown output", "outputs[0].name" },
        { "output twice", "outputs[1].name" },
        { "probe output without the probe", "outputs[0].name" },
        { "classification on label", "outputs[0].parameters[classification]" },
        { "classification too big", "outputs[0].parameters[classification]" },
        { "probe not a bool", "parameters[robustness_probe]" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task ModelInfer_MalformedRequest_IsInvalidArgumentNamingTheField_AndNeverReachesTheModel(string name, string field)
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => oip.ModelInferAsync(Malformed(name), cancellationToken: TestContext.Current).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field + " ", error.Status.Detail, StringComparison.Ordinal);
        var violation = Assert.Single(error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations);
        Assert.Equal(field, violation.Field);
    }

    [Fact]
    public async Task ModelInferAndMetadata_UnknownModelOrVersion_AreNotFoundNamingIt()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        var otherModel = RawRequest(checkpoint.Test, 0, 1, "");
        otherModel.ModelName = "resnet";
        var otherVersion = RawRequest(checkpoint.Test, 0, 1, "");
        otherVersion.ModelVersion = "v20200101T000000000Z-00000000";
        var pinned = RawRequest(checkpoint.Test, 0, 1, "");
        pinned.ModelVersion = checkpoint.Version;

        var errors = new[]
        {
            await Assert.ThrowsAsync<RpcException>(() => oip.ModelInferAsync(otherModel, cancellationToken: TestContext.Current).ResponseAsync),
            await Assert.ThrowsAsync<RpcException>(() => oip.ModelInferAsync(otherVersion, cancellationToken: TestContext.Current).ResponseAsync),
            await Assert.ThrowsAsync<RpcException>(() => oip.ModelMetadataAsync(new ModelMetadataRequest { Name = "resnet" }, cancellationToken: TestContext.Current).ResponseAsync),
            await Assert.ThrowsAsync<RpcException>(() => oip.ModelReadyAsync(new ModelReadyRequest { Name = Model, Version = "v1" }, cancellationToken: TestContext.Current).ResponseAsync),
        };
        var served = await oip.ModelInferAsync(pinned, cancellationToken: TestContext.Current);

        Assert.All(errors, e => Assert.Equal(StatusCode.NotFound, e.StatusCode));
        Assert.Contains("'resnet'", errors[0].Status.Detail, StringComparison.Ordinal);
        Assert.Contains("'v20200101T000000000Z-00000000'", errors[1].Status.Detail, StringComparison.Ordinal);
        Assert.Equal(checkpoint.Version, served.ModelVersion);
    }

    [Fact]
    public async Task ReadinessAndMetadata_FalseBeforeTheFirstCheckpoint_TrueAfter_AgreeingWithGrpcHealth()
    {
        await using var host = await InferenceSettings.StartAsync(store.Path);
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        var health = new Grpc.Health.V1.Health.HealthClient(host.Channel);

        var live = await oip.ServerLiveAsync(new ServerLiveRequest(), cancellationToken: TestContext.Current);
        var serverBefore = await oip.ServerReadyAsync(new ServerReadyRequest(), cancellationToken: TestContext.Current);
        var modelBefore = await oip.ModelReadyAsync(new ModelReadyRequest { Name = Model }, cancellationToken: TestContext.Current);
        var healthBefore = await health.CheckAsync(new HealthCheckRequest { Service = "inference.GRPCInferenceService" }, cancellationToken: TestContext.Current);
        var metadataBefore = await Assert.ThrowsAsync<RpcException>(() => oip.ModelMetadataAsync(new ModelMetadataRequest { Name = Model }, cancellationToken: TestContext.Current).ResponseAsync);
        var inferBefore = await Assert.ThrowsAsync<RpcException>(() => oip.ModelInferAsync(RawRequest(checkpoint.Test, 0, 1, ""), cancellationToken: TestContext.Current).ResponseAsync);

        checkpoint.CopyInto(store.Path);
        for (var i = 0; i < 100 && !(await oip.ModelReadyAsync(new ModelReadyRequest { Name = Model }, cancellationToken: TestContext.Current)).Ready; i++)
        {
            await Task.Delay(100, TestContext.Current);
        }

        var serverAfter = await oip.ServerReadyAsync(new ServerReadyRequest(), cancellationToken: TestContext.Current);
        var healthAfter = await health.CheckAsync(new HealthCheckRequest(), cancellationToken: TestContext.Current);
        var metadata = await oip.ModelMetadataAsync(new ModelMetadataRequest { Name = Model }, cancellationToken: TestContext.Current);
        var server = await oip.ServerMetadataAsync(new ServerMetadataRequest(), cancellationToken: TestContext.Current);

        Assert.True(live.Live);
        Assert.False(serverBefore.Ready);
        Assert.False(modelBefore.Ready);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, healthBefore.Status);
        Assert.Equal(StatusCode.Unavailable, metadataBefore.StatusCode);
        Assert.Equal(StatusCode.Unavailable, inferBefore.StatusCode);
        Assert.True(serverAfter.Ready);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, healthAfter.Status);
        Assert.Equal(Model, metadata.Name);
        Assert.Equal([checkpoint.Version], metadata.Versions);
        var input = Assert.Single(metadata.Inputs);
        Assert.Equal(("image", "UINT8"), (input.Name, input.Datatype));
        Assert.Equal([-1, 1, 28, 28], input.Shape);
        Assert.Equal([-1, 10], Assert.Single(metadata.Outputs, o => o.Name == "probabilities").Shape);
        Assert.Contains(metadata.Outputs, o => o.Name == "probe_adversarial_label");
        Assert.Equal("hardpair", server.Name);
        Assert.Contains("classification", server.Extensions);
    }

    [Fact]
    public async Task HotSwap_UnderModelInferLoad_NoFailedCall_AndEveryResponseFromAServingVersion()
    {
        var a = checkpoint.CopyInto(store.Path, "v20260101T000000000Z-aaaaaaaa");
        var b = checkpoint.CopyInto(store.Path, "v20260101T000000001Z-bbbbbbbb");
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var admin = new Admin.AdminClient(host.Channel.Intercept(headers =>
        {
            headers.Add("authorization", $"Bearer {InferenceSettings.AdminToken}");
            return headers;
        }));
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var answered = new System.Collections.Concurrent.ConcurrentBag<string>();

        var callers = Enumerable.Range(0, 24).Select(c => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    var reply = await oip.ModelInferAsync(RawRequest(checkpoint.Test, (c * 31) + (i % 31), 1 + (i % 3), ""), cancellationToken: TestContext.Current);
                    answered.Add(reply.ModelVersion);
                }
                catch (RpcException ex)
                {
                    failures.Enqueue(ex.Status.ToString());
                }
            }
        })).ToList();

        for (var swap = 0; swap < 8; swap++)
        {
            await Task.Delay(100, TestContext.Current);
            await admin.ActivateModelAsync(new ActivateModelRequest { Version = swap % 2 == 0 ? a : b, Pin = true }, cancellationToken: TestContext.Current);
        }

        await Task.Delay(100, TestContext.Current);
        await stop.CancelAsync();
        await Task.WhenAll(callers);

        Assert.Empty(failures);
        Assert.True(answered.Count > 50, $"{answered.Count} answers");
        Assert.All(answered, v => Assert.Contains(v, new[] { a, b }));
        Assert.Contains(a, answered);
        Assert.Contains(b, answered);
    }

    /// <summary>Triton's additions, called as tritonclient and perf_analyzer call them: by their paths under inference.GRPCInferenceService.</summary>
    [Fact]
    public async Task TritonAdditions_StreamAnswersEachRequestInOrder_ErrorsInBand_AndTheConfigDescribesTheModel()
    {
        checkpoint.CopyInto(store.Path);
        await using var host = await InferenceSettings.StartServingAsync(store.Path);
        var invoker = host.Channel.CreateCallInvoker();
        static Marshaller<T> Marshal<T>(MessageParser<T> parser)
            where T : IMessage<T> => Marshallers.Create(m => m.ToByteArray(), parser.ParseFrom);
        var stream = new Method<ModelInferRequest, ModelStreamInferResponse>(MethodType.DuplexStreaming, "inference.GRPCInferenceService", "ModelStreamInfer", Marshal(ModelInferRequest.Parser), Marshal(ModelStreamInferResponse.Parser));
        var config = new Method<ModelConfigRequest, ModelConfigResponse>(MethodType.Unary, "inference.GRPCInferenceService", "ModelConfig", Marshal(ModelConfigRequest.Parser), Marshal(ModelConfigResponse.Parser));
        var missing = new Method<ModelConfigRequest, ModelConfigResponse>(MethodType.Unary, "inference.GRPCInferenceService", "RepositoryIndex", Marshal(ModelConfigRequest.Parser), Marshal(ModelConfigResponse.Parser));
        var bad = RawRequest(checkpoint.Test, 1, 1, "s1");
        bad.Inputs[0].Datatype = "INT64";

        using var call = invoker.AsyncDuplexStreamingCall(stream, null, new CallOptions(cancellationToken: TestContext.Current));
        foreach (var request in new[] { RawRequest(checkpoint.Test, 0, 2, "s0"), bad, RawRequest(checkpoint.Test, 2, 1, "s2") })
        {
            await call.RequestStream.WriteAsync(request, TestContext.Current);
        }

        await call.RequestStream.CompleteAsync();
        var answers = new List<ModelStreamInferResponse>();
        await foreach (var answer in call.ResponseStream.ReadAllAsync(TestContext.Current))
        {
            answers.Add(answer);
        }

        var configuration = (await invoker.AsyncUnaryCall(config, null, new CallOptions(cancellationToken: TestContext.Current), new ModelConfigRequest { Name = Model })).Config;
        var unimplemented = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(missing, null, new CallOptions(cancellationToken: TestContext.Current), new ModelConfigRequest()).ResponseAsync);
        var unknownModel = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(config, null, new CallOptions(cancellationToken: TestContext.Current), new ModelConfigRequest { Name = "resnet" }).ResponseAsync);

        Assert.Equal(["s0", "s1", "s2"], answers.Select(a => a.InferResponse.Id));
        Assert.Equal("", answers[0].ErrorMessage);
        Assert.Equal([2, 10], answers[0].InferResponse.Outputs[0].Shape);
        Assert.StartsWith("InvalidArgument: inputs[0].datatype", answers[1].ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(checkpoint.Version, answers[2].InferResponse.ModelVersion);
        Assert.Equal(Model, configuration.Name);
        Assert.Equal(256, configuration.MaxBatchSize);
        var input = Assert.Single(configuration.Input);
        Assert.Equal((DataType.TypeUint8, ModelInput.Types.Format.Nchw), (input.DataType, input.Format));
        Assert.Equal([1, 28, 28], input.Dims);
        Assert.Equal([10], configuration.Output.Single(o => o.Name == "probabilities").Dims);
        Assert.Equal([1], configuration.Output.Single(o => o.Name == "label").Dims);
        Assert.Equal([64], configuration.DynamicBatching.PreferredBatchSize);
        Assert.Equal(StatusCode.Unimplemented, unimplemented.StatusCode);
        Assert.Equal(StatusCode.NotFound, unknownModel.StatusCode);
    }

    [Fact]
    public async Task Rest_HealthMetadataAndInfer_AnswerTheSpecificationsJson_AndABadBodyIs400()
    {
        checkpoint.CopyInto(store.Path);
        var port = ServiceProcess.FreePort();
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?> { ["OpenInference:RestPort"] = port.ToString(CultureInfo.InvariantCulture) });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var oip = new GRPCInferenceService.GRPCInferenceServiceClient(host.Channel);
        var pixels = checkpoint.Test.Image(7).ToArray();
        var nested = Enumerable.Range(0, 28).Select(y => pixels.Skip(y * 28).Take(28).Select(p => (int)p).ToArray()).ToArray();
        var body = new
        {
            id = "rest-1",
            inputs = new[] { new { name = "image", shape = new[] { 1, 28, 28 }, datatype = "UINT8", data = (object)new[] { nested } } },
            outputs = new object[] { new { name = "probabilities", parameters = new { classification = 2 } }, new { name = "label" }, new { name = "ambiguous" } },
        };

        var live = await http.GetAsync(new Uri("/v2/health/live", UriKind.Relative), TestContext.Current);
        var ready = await http.GetAsync(new Uri("/v2/health/ready", UriKind.Relative), TestContext.Current);
        using var server = JsonDocument.Parse(await http.GetStringAsync(new Uri("/v2", UriKind.Relative), TestContext.Current));
        using var metadata = JsonDocument.Parse(await http.GetStringAsync(new Uri($"/v2/models/{Model}", UriKind.Relative), TestContext.Current));
        var modelReady = await http.GetAsync(new Uri($"/v2/models/{Model}/ready", UriKind.Relative), TestContext.Current);
        var infer = await http.PostAsJsonAsync(new Uri($"/v2/models/{Model}/infer", UriKind.Relative), body, TestContext.Current);
        using var answer = JsonDocument.Parse(await infer.Content.ReadAsStringAsync(TestContext.Current));
        var grpc = Decode(await oip.ModelInferAsync(RawRequest(checkpoint.Test, 7, 1, ""), cancellationToken: TestContext.Current));
        var badJson = await http.PostAsync(new Uri($"/v2/models/{Model}/infer", UriKind.Relative), new StringContent("{\"inputs\": [", System.Text.Encoding.UTF8, "application/json"), TestContext.Current);
        var badTensor = await http.PostAsJsonAsync(new Uri($"/v2/models/{Model}/infer", UriKind.Relative), new { inputs = new[] { new { name = "image", shape = new[] { 1, 28, 27 }, datatype = "UINT8", data = new int[756] } } }, TestContext.Current);
        var unknown = await http.PostAsJsonAsync(new Uri("/v2/models/resnet/infer", UriKind.Relative), body, TestContext.Current);

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, modelReady.StatusCode);
        Assert.Equal("hardpair", server.RootElement.GetProperty("name").GetString());
        Assert.Equal(checkpoint.Version, metadata.RootElement.GetProperty("versions")[0].GetString());
        Assert.Equal("UINT8", metadata.RootElement.GetProperty("inputs")[0].GetProperty("datatype").GetString());
        Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        var root = answer.RootElement;
        Assert.Equal(Model, root.GetProperty("model_name").GetString());
        Assert.Equal(checkpoint.Version, root.GetProperty("model_version").GetString());
        Assert.Equal("rest-1", root.GetProperty("id").GetString());
        var outputs = root.GetProperty("outputs");
        Assert.Equal(["probabilities", "label", "ambiguous"], outputs.EnumerateArray().Select(o => o.GetProperty("name").GetString()));
        Assert.Equal("BYTES", outputs[0].GetProperty("datatype").GetString());
        var best = outputs[0].GetProperty("data")[0].GetString()!.Split(':', 3);
        Assert.Equal((int)grpc["label"][0], outputs[1].GetProperty("data")[0].GetInt32());
        Assert.Equal((int)grpc["label"][0], int.Parse(best[1], CultureInfo.InvariantCulture));
        Assert.Equal(grpc["confidence"][0], float.Parse(best[0], CultureInfo.InvariantCulture), 1e-5);
        Assert.Equal(grpc["ambiguous"][0] == 1f, outputs[2].GetProperty("data")[0].GetBoolean());
        Assert.Equal(HttpStatusCode.BadRequest, badJson.StatusCode);
        Assert.Contains("not valid JSON", await badJson.Content.ReadAsStringAsync(TestContext.Current), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badTensor.StatusCode);
        Assert.Contains("inputs[0].shape", await badTensor.Content.ReadAsStringAsync(TestContext.Current), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("'resnet'", await unknown.Content.ReadAsStringAsync(TestContext.Current), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rest_UnderTheRateLimit_IsAdmittedLikeClassify_AndRefusedWith429AndRetryAfter()
    {
        checkpoint.CopyInto(store.Path);
        var port = ServiceProcess.FreePort();
        await using var host = await InferenceSettings.StartServingAsync(store.Path, new Dictionary<string, string?>
        {
            ["OpenInference:RestPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["RateLimit:ImagesPerSecond"] = "1",
            ["RateLimit:Burst"] = "3",
            ["RateLimit:Key"] = "PeerAddress",
        });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var body = new { inputs = new[] { new { name = "image", shape = new[] { 2, 28, 28 }, datatype = "UINT8", data = new int[2 * 784] } } };

        var first = await http.PostAsJsonAsync(new Uri($"/v2/models/{Model}/infer", UriKind.Relative), body, TestContext.Current);
        var second = await http.PostAsJsonAsync(new Uri($"/v2/models/{Model}/infer", UriKind.Relative), body, TestContext.Current);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.True(second.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {second.Headers.RetryAfter}");
        Assert.Contains("rate limit", await second.Content.ReadAsStringAsync(TestContext.Current), StringComparison.Ordinal);
    }

    private static ModelInferRequest RawRequest(ImageDataset data, int first, int count, string id)
    {
        var bytes = new byte[count * 784];
        for (var i = 0; i < count; i++)
        {
            data.Image((first + i) % data.Count).CopyTo(bytes.AsSpan(i * 784));
        }

        return new ModelInferRequest
        {
            ModelName = Model,
            Id = id,
            Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "image", Datatype = "UINT8", Shape = { count, 1, 28, 28 } } },
            RawInputContents = { ByteString.CopyFrom(bytes) },
        };
    }

    private static ModelInferRequest TypedFp32Request(ImageDataset data, int first, int count)
    {
        var contents = new InferTensorContents();
        for (var i = 0; i < count; i++)
        {
            foreach (var b in data.Image(first + i))
            {
                contents.Fp32Contents.Add(b / 255f);
            }
        }

        return new ModelInferRequest
        {
            ModelName = Model,
            Inputs = { new ModelInferRequest.Types.InferInputTensor { Name = "image", Datatype = "FP32", Shape = { count, 28, 28 }, Contents = contents } },
        };
    }

    private ModelInferRequest Malformed(string name)
    {
        var request = RawRequest(checkpoint.Test, 0, 1, "");
        var typed = TypedFp32Request(checkpoint.Test, 0, 1);
        var input = request.Inputs[0];
        void Output(string output) => request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = output });
        switch (name)
        {
            case "no input": request.Inputs.Clear(); request.RawInputContents.Clear(); break;
            case "two inputs": request.Inputs.Add(input.Clone()); break;
            case "unknown input": input.Name = "pixels"; break;
            case "wrong datatype": input.Datatype = "INT8"; break;
            case "wrong shape": input.Shape[3] = 27; break;
            case "colour shape": input.Shape[1] = 3; break;
            case "zero images": input.Shape[0] = 0; break;
            case "too many images": input.Shape[0] = 257; break;
            case "raw too short": request.RawInputContents[0] = ByteString.CopyFrom(new byte[783]); break;
            case "raw and typed": input.Contents = new InferTensorContents { UintContents = { new uint[784] } }; break;
            case "typed count": typed.Inputs[0].Contents.Fp32Contents.RemoveAt(0); return typed;
            case "typed in the wrong field": typed.Inputs[0].Contents.Fp64Contents.Add(0.5); return typed;
            case "uint8 above 255":
                request.RawInputContents.Clear();
                input.Contents = new InferTensorContents { UintContents = { new uint[784] } };
                input.Contents.UintContents[3] = 256;
                break;
            case "NaN": typed.Inputs[0].Contents.Fp32Contents[0] = float.NaN; return typed;
            case "raw infinity":
                var floats = new byte[784 * 4];
                BinaryPrimitives.WriteSingleLittleEndian(floats.AsSpan(4), float.PositiveInfinity);
                input.Datatype = "FP32";
                request.RawInputContents[0] = ByteString.CopyFrom(floats);
                break;
            case "above 1": typed.Inputs[0].Contents.Fp32Contents[2] = 1.5f; return typed;
            case "unknown output": Output("logits"); break;
            case "output twice": Output("label"); Output("label"); break;
            case "probe output without the probe": Output("probe_label_flips"); break;
            case "classification on label":
                request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "label", Parameters = { ["classification"] = new InferParameter { Int64Param = 2 } } });
                break;
            case "classification too big":
                request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "probabilities", Parameters = { ["classification"] = new InferParameter { Int64Param = 11 } } });
                break;
            case "probe not a bool": request.Parameters["robustness_probe"] = new InferParameter { StringParam = "yes" }; break;
            default: throw new ArgumentOutOfRangeException(nameof(name), name, "no such case");
        }

        return request;
    }

    private static ModelInferResponse.Types.InferOutputTensor Output(ModelInferResponse response, string name) =>
        response.Outputs.Single(o => o.Name == name);

    /// <summary>Every output as floats, read from raw or typed contents by datatype.</summary>
    private static Dictionary<string, float[]> Decode(ModelInferResponse response)
    {
        var tensors = new Dictionary<string, float[]>();
        for (var o = 0; o < response.Outputs.Count; o++)
        {
            var output = response.Outputs[o];
            if (response.RawOutputContents.Count > 0)
            {
                var raw = response.RawOutputContents[o].ToByteArray();
                tensors[output.Name] = output.Datatype switch
                {
                    "FP32" => Enumerable.Range(0, raw.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4))).ToArray(),
                    "INT32" => Enumerable.Range(0, raw.Length / 4).Select(i => (float)BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(i * 4))).ToArray(),
                    _ => raw.Select(b => (float)b).ToArray(),
                };
            }
            else
            {
                var contents = output.Contents;
                tensors[output.Name] = output.Datatype switch
                {
                    "FP32" => [.. contents.Fp32Contents],
                    "INT32" => [.. contents.IntContents.Select(v => (float)v)],
                    _ => [.. contents.BoolContents.Select(v => v ? 1f : 0f)],
                };
            }
        }

        return tensors;
    }
}
