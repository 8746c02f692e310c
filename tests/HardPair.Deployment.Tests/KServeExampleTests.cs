using HardPair.Testing;
using YamlDotNet.Serialization;

namespace HardPair.Deployment.Tests;

/// <summary>
/// helm/examples/kserve: the inference image as a KServe ServingRuntime speaking the Open
/// Inference Protocol over REST and gRPC, and an InferenceService on it.
/// </summary>
[Trait(TestKind.Trait, TestKind.Process)]
public sealed class KServeExampleTests
{
    private static readonly string Folder = Path.Combine(Repository.Root, "helm", "examples", "kserve");

    [Fact]
    public void ServingRuntime_SpeaksBothOpenInferenceProtocols_FromTheInferenceImage()
    {
        var runtime = Assert.Single(Objects(), o => o.Kind == "ServingRuntime");

        Assert.Equal("serving.kserve.io/v1alpha1", runtime.Get("apiVersion"));
        var protocols = ((List<object>)runtime.Get("spec.protocolVersions")!).Cast<string>().ToList();
        Assert.Contains("v2", protocols);
        Assert.Contains("grpc-v2", protocols);
        Assert.Contains(runtime.List("spec.supportedModelFormats"), f => (string)f["name"] == "hardpair");

        // Inference only: the one container is the inference image; no trainer beside it.
        var container = Assert.Single(runtime.List("spec.containers"));
        Assert.Equal("kserve-container", container["name"]);
        Assert.StartsWith("ghcr.io/hardpair/inference:", (string)container["image"], StringComparison.Ordinal);
        var ports = ((List<object>)container["ports"]).Cast<Dictionary<object, object>>().ToDictionary(p => (string)p["name"], p => p["containerPort"].ToString());
        Assert.Equal("8080", ports["http1"]);
        Assert.Equal("8081", ports["h2c"]);

        var entries = ((List<object>)container["env"]).Cast<Dictionary<object, object>>().ToList();
        var env = entries.Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);
        Assert.Equal("/mnt/models", env["Checkpoints__Path"]);
        Assert.Equal(string.Empty, env["Checkpoints__SeedFrom"]);
        Assert.Equal("{{.Name}}", env["OpenInference__ModelName"]);
        Assert.Equal(ports["http1"], env["OpenInference__RestPort"]);
        Assert.Equal("+", env["OpenInference__RestHost"]);
        Assert.Equal($"http://0.0.0.0:{ports["h2c"]}", env["Kestrel__Endpoints__Main__Url"]);
        Assert.StartsWith("http://127.0.0.1:", env["Kestrel__Endpoints__Admin__Url"], StringComparison.Ordinal);
        var token = entries.Single(e => (string)e["name"] == "Admin__Token");
        Assert.Equal("token", Manifest.Get(token, "valueFrom.secretKeyRef.key"));

        foreach (var (probe, path) in new[] { ("startupProbe", "/v2/health/live"), ("livenessProbe", "/v2/health/live"), ("readinessProbe", "/v2/health/ready") })
        {
            Assert.Equal(path, Manifest.Get(container, $"{probe}.httpGet.path"));
            Assert.Equal(ports["http1"], Manifest.Get(container, $"{probe}.httpGet.port")!.ToString());
        }
    }

    [Fact]
    public void InferenceService_RunsOnTheServingRuntime_FromAStorageUri()
    {
        var objects = Objects();
        var runtime = Assert.Single(objects, o => o.Kind == "ServingRuntime");
        var service = Assert.Single(objects, o => o.Kind == "InferenceService");

        Assert.Equal("serving.kserve.io/v1beta1", service.Get("apiVersion"));
        Assert.Equal(runtime.Name, service.Get("spec.predictor.model.runtime"));
        Assert.Equal("hardpair", service.Get("spec.predictor.model.modelFormat.name"));
        Assert.Equal("v2", service.Get("spec.predictor.model.protocolVersion"));
        Assert.Matches("^[a-z0-9]+://", (string)service.Get("spec.predictor.model.storageUri")!);
        var annotations = (Dictionary<object, object>)service.Get("metadata.annotations")!;
        Assert.Equal("RawDeployment", annotations["serving.kserve.io/deploymentMode"]);
        Assert.Contains("Inference only", File.ReadAllText(Path.Combine(Folder, "README.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Manifests_PassYamllint_WithTheChartsRules()
    {
        var lint = ChartRenderer.Run("yamllint", ["-d", "{extends: default, rules: {line-length: disable, document-start: disable}}", Folder]);

        Assert.True(lint.ExitCode == 0, lint.Output + lint.Error);
        Assert.Equal(2, Directory.GetFiles(Folder, "*.yaml").Length);
    }

    private static List<Manifest> Objects()
    {
        var deserializer = new DeserializerBuilder().Build();
        return [.. Directory.GetFiles(Folder, "*.yaml").Order(StringComparer.Ordinal)
            .Select(file => new Manifest(deserializer.Deserialize<Dictionary<object, object>>(File.ReadAllText(file))))];
    }
}
