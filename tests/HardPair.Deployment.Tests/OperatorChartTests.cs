using System.Text.Json;
using HardPair.Testing;

namespace HardPair.Deployment.Tests;

/// <summary>
/// The operators' side of the Open Inference Protocol (its REST port, the Service's port names,
/// the settings) and the Grafana dashboard's ConfigMap, as the chart renders them.
/// </summary>
[Trait(TestKind.Trait, TestKind.Process)]
public sealed class OperatorChartTests(ChartRenderer chart) : IClassFixture<ChartRenderer>
{
    [Fact]
    public void Defaults_ExposeTheRestTwinOnItsOwnPort_AndTheGrpcServicesOnTheMainPort()
    {
        var rendering = chart.Render();
        var containers = rendering.Single("Deployment").List("spec.template.spec.containers");
        var inference = containers.Single(c => (string)c["name"] == "inference");
        var trainer = containers.Single(c => (string)c["name"] == "trainer");

        var ports = Ports(inference);
        Assert.Equal("50051", ports["grpc"]);
        Assert.Equal("8000", ports["http"]);
        Assert.DoesNotContain("http", Ports(trainer).Keys);

        // inference.GRPCInferenceService shares the classifier's port: the `grpc` port carries both.
        var service = rendering.OfKind("Service").Single(s => s.Name == "demo-hardpair");
        Assert.Equal(["grpc", "http", "metrics"], service.List("spec.ports").Select(p => (string)p["name"]));
        var servicePorts = service.List("spec.ports").ToDictionary(p => (string)p["name"]);
        Assert.Equal("50051", servicePorts["grpc"]["port"].ToString());
        Assert.Equal("grpc", servicePorts["grpc"]["targetPort"]);
        Assert.Equal("kubernetes.io/h2c", servicePorts["grpc"]["appProtocol"]);
        Assert.Equal("8000", servicePorts["http"]["port"].ToString());
        Assert.Equal("http", servicePorts["http"]["targetPort"]);
        Assert.Equal("http", servicePorts["http"]["appProtocol"]);

        var config = rendering.Single("ConfigMap");
        Assert.Equal("classifier", config.Get("data.OpenInference__ModelName"));
        Assert.Equal("8000", config.Get("data.OpenInference__RestPort"));
        Assert.Equal("+", config.Get("data.OpenInference__RestHost"));

        // The probes are the chart's gRPC probes, unchanged.
        Assert.Equal("50051", Manifest.Get(inference, "readinessProbe.grpc.port")!.ToString());
        Assert.Equal("hardpair.v1.Classifier", Manifest.Get(inference, "readinessProbe.grpc.service"));
        Assert.Null(Manifest.Get(inference, "readinessProbe.httpGet"));
        Assert.Contains("curl localhost:8000/v2/models/classifier/ready", rendering.Notes, StringComparison.Ordinal);
    }

    [Fact]
    public void Tls_MarksTheGrpcServicePortAsHttps_NotH2c()
    {
        var service = chart.Render("tls.yaml").OfKind("Service").Single(s => s.Name == "demo-hardpair");

        Assert.Equal("https", service.List("spec.ports").Single(p => (string)p["name"] == "grpc")["appProtocol"]);
    }

    [Fact]
    public void RestOff_LeavesNoRestPort_AndSetsRestPortZero()
    {
        var rendering = chart.Render("rest-off.yaml");
        var inference = rendering.Single("Deployment").List("spec.template.spec.containers").Single(c => (string)c["name"] == "inference");

        Assert.DoesNotContain("http", Ports(inference).Keys);
        Assert.Equal("50051", Ports(inference)["grpc"]);
        var service = rendering.OfKind("Service").Single(s => s.Name == "demo-hardpair");
        Assert.Equal(["grpc", "metrics"], service.List("spec.ports").Select(p => (string)p["name"]));
        var config = rendering.Single("ConfigMap");
        Assert.Equal("0", config.Get("data.OpenInference__RestPort"));
        Assert.Equal("cifar10-robust", config.Get("data.OpenInference__ModelName"));
        Assert.Contains("REST off", rendering.Notes, StringComparison.Ordinal);
    }

    [Fact]
    public void GrafanaDashboard_ByDefault_IsNotRendered()
    {
        var rendering = chart.Render();

        var config = Assert.Single(rendering.OfKind("ConfigMap"));
        Assert.Equal("demo-hardpair", config.Name);
        Assert.Null(config.Get("metadata.labels.grafana_dashboard"));
    }

    [Fact]
    public void GrafanaDashboard_WhenEnabled_IsAConfigMapForTheGrafanaSidecar_HoldingTheChartsJson()
    {
        var rendering = chart.Render("dashboard.yaml");

        var dashboard = rendering.OfKind("ConfigMap").Single(m => m.Name == "demo-hardpair-dashboard");
        Assert.Equal("1", dashboard.Get("metadata.labels.grafana_dashboard"));
        Assert.Equal("prometheus", dashboard.Get("metadata.labels.release"));
        Assert.Equal("hardpair", Labels(dashboard)["app.kubernetes.io/name"]);
        Assert.Equal("monitoring", dashboard.Get("metadata.namespace"));
        Assert.Equal("HardPair", dashboard.Get("metadata.annotations.grafana_folder"));
        var entry = Assert.Single((Dictionary<object, object>)dashboard.Get("data")!);
        Assert.Equal("hardpair-inference.json", entry.Key);
        var json = (string)entry.Value;
        using (var document = JsonDocument.Parse(json))
        {
            Assert.Equal("hardpair-inference", document.RootElement.GetProperty("uid").GetString());
        }

        Assert.Equal(GrafanaDashboard.Read().Trim(), json.Trim());
        Assert.Equal(GrafanaDashboard.MetricNames(GrafanaDashboard.Read()), GrafanaDashboard.MetricNames(json));
        Assert.NotEmpty(GrafanaDashboard.MetricNames(json));
        Assert.Single(rendering.OfKind("ConfigMap"), m => m.Name == "demo-hardpair");
    }

    private static Dictionary<string, string> Ports(Dictionary<object, object> container) =>
        ((List<object>?)Manifest.Get(container, "ports") ?? []).Cast<Dictionary<object, object>>().ToDictionary(p => (string)p["name"], p => p["containerPort"].ToString()!);

    private static Dictionary<object, object> Labels(Manifest manifest) => (Dictionary<object, object>)manifest.Get("metadata.labels")!;
}
