using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>A non-.NET client: Python stubs generated from protos/ with Debian's grpc tools, calling the real service.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class PythonClientTests
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task PythonClient_FromGeneratedStubs_ClassifiesStreamsAndChecksHealth()
    {
        await using var stack = Stack.Create();
        await stack.StartInferenceAsync(TestContext.Current);
        var stubs = stack.Root.Combine("python");
        Directory.CreateDirectory(stubs);
        var protos = Path.Combine(Stack.RepositoryRoot, "protos");
        string[] protoc =
        [
            "-m", "grpc_tools.protoc", "-I", protos, "-I", "/usr/lib/python3/dist-packages/grpc_tools/_proto",
            $"--python_out={stubs}", $"--grpc_python_out={stubs}",
            .. Directory.GetFiles(Path.Combine(protos, "hardpair", "v1"), "*.proto"),
        ];
        var generated = await RunAsync(Python, protoc);
        Assert.True(generated.ExitCode == 0, generated.Error);

        var client = await RunAsync(Python, [Path.Combine(Stack.RepositoryRoot, "tests", "python", "classify_client.py"), "--address", $"127.0.0.1:{stack.InferenceAddress.Port}", "--stubs", stubs]);

        Assert.True(client.ExitCode == 0, client.Error);
        using var json = JsonDocument.Parse(client.Output);
        var root = json.RootElement;
        var test = Storage.Data.DatasetCatalog.Load(new Storage.Data.DataOptions(), Storage.Data.DatasetSplit.Test);
        var dotnet = await stack.Classifier().ClassifyAsync(
            new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(0)), Shape = { 1, 28, 28 } } },
            cancellationToken: TestContext.Current);
        Assert.Equal("SERVING", root.GetProperty("health").GetString());
        Assert.Equal(dotnet.Label, root.GetProperty("label").GetInt32());
        Assert.Equal(dotnet.ClassName, root.GetProperty("class_name").GetString());
        Assert.Equal(Stack.BootstrapVersion, root.GetProperty("model_version").GetString());
        Assert.Equal("python-0", root.GetProperty("request_id").GetString());
        Assert.Equal(3, root.GetProperty("top_k").GetArrayLength());
        Assert.Equal(["s0", "s1", "s2"], root.GetProperty("stream").EnumerateArray().Select(e => e[0].GetString()));
        Assert.Equal(dotnet.Label, root.GetProperty("stream")[0][1].GetInt32());
        Assert.Equal("INVALID_ARGUMENT", root.GetProperty("empty_request").GetString());
    }

    /// <summary>
    /// An Open Inference Protocol client generated from <c>protos/inference</c> alone: 500 real test
    /// images as raw UINT8 and as typed FP32, in batches, agree with <c>hardpair.v1</c> on the
    /// same images; the classification strings parse and agree; malformed requests are refused.
    /// </summary>
    [Fact]
    public async Task OpenInferenceClient_FromTheSpecificationsProto_Classifies500Images_AsClassifyDoes()
    {
        await using var stack = Stack.Create();
        await stack.StartInferenceAsync(TestContext.Current);
        var stubs = stack.Root.Combine("python-oip");
        Directory.CreateDirectory(stubs);
        var protos = Path.Combine(Stack.RepositoryRoot, "protos");
        var generated = await RunAsync(Python,
        [
            "-m", "grpc_tools.protoc", "-I", protos, $"--python_out={stubs}", $"--grpc_python_out={stubs}",
            Path.Combine(protos, "inference", "open_inference_grpc.proto"),
        ]);
        Assert.True(generated.ExitCode == 0, generated.Error);

        var client = await RunAsync(Python, [Path.Combine(Stack.RepositoryRoot, "tests", "python", "oip_client.py"), "--address", $"127.0.0.1:{stack.InferenceAddress.Port}", "--stubs", stubs, "--count", "500"]);

        Assert.True(client.ExitCode == 0, client.Error);
        using var json = JsonDocument.Parse(client.Output);
        var root = json.RootElement;
        var test = Storage.Data.DatasetCatalog.Load(new Storage.Data.DataOptions(), Storage.Data.DatasetSplit.Test);
        var reference = new List<ClassifyResponse>();
        for (var start = 0; start < 500; start += 250)
        {
            var batch = new ClassifyBatchRequest();
            batch.Requests.AddRange(Enumerable.Range(start, 250).Select(i =>
                new ClassifyRequest { Image = new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(i)), Shape = { 1, 28, 28 } } }));
            reference.AddRange((await stack.Classifier().ClassifyBatchAsync(batch, cancellationToken: TestContext.Current)).Responses);
        }

        Assert.True(root.GetProperty("server_ready").GetBoolean());
        Assert.True(root.GetProperty("model_ready").GetBoolean());
        Assert.Equal("hardpair", root.GetProperty("server").GetString());
        Assert.Equal([Stack.BootstrapVersion], root.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal([Stack.BootstrapVersion], root.GetProperty("answered_by").EnumerateArray().Select(v => v.GetString()));
        foreach (var pass in new[] { "raw", "typed" })
        {
            var labels = root.GetProperty(pass).GetProperty("labels");
            var probabilities = root.GetProperty(pass).GetProperty("probabilities");
            Assert.Equal(500, labels.GetArrayLength());
            for (var i = 0; i < 500; i++)
            {
                Assert.Equal(reference[i].Label, labels[i].GetInt32());
                for (var c = 0; c < 10; c++)
                {
                    Assert.Equal(reference[i].Probabilities[c], probabilities[i][c].GetDouble(), 1e-5);
                }
            }
        }

        Assert.Equal([10, 3], root.GetProperty("classification_shape").EnumerateArray().Select(d => d.GetInt32()));
        var strings = root.GetProperty("classification");
        for (var i = 0; i < 10; i++)
        {
            for (var k = 0; k < 3; k++)
            {
                var entry = strings[(i * 3) + k];
                Assert.Equal(reference[i].TopK[k].Label, entry[1].GetInt32());
                Assert.Equal(reference[i].TopK[k].Probability, entry[0].GetDouble(), 1e-5);
                Assert.Equal(reference[i].TopK[k].ClassName, entry[2].GetString());
            }
        }

        foreach (var refused in root.GetProperty("refused").EnumerateObject())
        {
            Assert.True(refused.Value.GetString() == (refused.Name == "unknown model" ? "NOT_FOUND" : "INVALID_ARGUMENT"), $"{refused.Name}: {refused.Value}");
        }
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current);
        await process.WaitForExitAsync(TestContext.Current);
        return (process.ExitCode, await output, await error);
    }
}
