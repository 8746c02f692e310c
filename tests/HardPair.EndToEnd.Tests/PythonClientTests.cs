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
