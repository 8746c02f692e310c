using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using HardPair.Testing;
using Json.Schema;

namespace HardPair.Deployment.Tests;

[Trait(TestKind.Trait, TestKind.Process)]
public sealed class ChartTests(ChartRenderer chart) : IClassFixture<ChartRenderer>
{
    public static TheoryData<string?> ValueSets() => [null, "gpu.yaml", "scale-out.yaml", "existing.yaml", "unsigned.yaml", "ecdsa.yaml", "tls.yaml", "rate-limit.yaml", "dashboard.yaml", "rest-off.yaml"];

    [Fact]
    public void Defaults_RenderOnePodWithBothContainers_SharingTheCheckpointVolume()
    {
        var rendering = chart.Render();

        Assert.Equal(
            ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Secret", "Service", "ServiceAccount"],
            rendering.Manifests.Select(m => m.Kind).Order());
        var deployment = rendering.Single("Deployment");
        var containers = deployment.List("spec.template.spec.containers");
        Assert.Equal(["inference", "trainer"], containers.Select(c => (string)c["name"]));
        foreach (var container in containers)
        {
            var mounts = ((List<object>)container["volumeMounts"]).Cast<Dictionary<object, object>>();
            Assert.Contains(mounts, m => (string)m["name"] == "data" && (string)m["mountPath"] == "/data");
        }

        var volumes = deployment.List("spec.template.spec.volumes");
        Assert.NotNull(Manifest.Get(volumes.Single(v => (string)v["name"] == "data"), "emptyDir"));
        Assert.Equal("1", Manifest.Get(deployment.Get("spec")!, "replicas")!.ToString());
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void EveryValueSet_HasGrpcProbesPortsSecurityAndTheTokenSecret(string? values)
    {
        var rendering = chart.Render(values);
        var pod = rendering.Single("Deployment").Get("spec.template.spec")!;
        var containers = ((List<object>)Manifest.Get(pod, "containers")!).Cast<Dictionary<object, object>>().ToList();

        Assert.Equal("true", Manifest.Get(pod, "securityContext.runAsNonRoot")!.ToString());
        foreach (var container in containers)
        {
            foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
            {
                Assert.NotNull(Manifest.Get(container, $"{probe}.grpc.port"));
            }

            Assert.Equal("true", Manifest.Get(container, "securityContext.readOnlyRootFilesystem")!.ToString());
            Assert.Equal("false", Manifest.Get(container, "securityContext.allowPrivilegeEscalation")!.ToString());
            Assert.Equal(["ALL"], ((List<object>)Manifest.Get(container, "securityContext.capabilities.drop")!).Cast<string>());
        }

        var inference = containers.Single(c => (string)c["name"] == "inference");
        Assert.Equal("liveness", Manifest.Get(inference, "livenessProbe.grpc.service"));
        Assert.Equal("hardpair.v1.Classifier", Manifest.Get(inference, "readinessProbe.grpc.service"));
        var ports = ((List<object>)inference["ports"]).Cast<Dictionary<object, object>>().ToDictionary(p => (string)p["name"], p => p["containerPort"].ToString());
        Assert.Equal("50051", ports["grpc"]);
        Assert.Equal("50052", ports["admin"]);

        var secretName = values == "existing.yaml" ? "hardpair-admin" : "demo-hardpair-token";
        var tokenVolume = ((List<object>)Manifest.Get(pod, "volumes")!).Cast<Dictionary<object, object>>().Single(v => (string)v["name"] == "token");
        Assert.Equal(secretName, Manifest.Get(tokenVolume, "secret.secretName"));
        var signing = values != "unsigned.yaml";
        Assert.Equal(values == "existing.yaml" ? 0 : signing ? 2 : 1, rendering.OfKind("Secret").Count());
        Assert.All(containers, c => Assert.Contains(((List<object>)c["env"]).Cast<Dictionary<object, object>>(), e => ((string)e["name"]).EndsWith("__TokenFile", StringComparison.Ordinal)));


        // Checkpoint signing (on unless turned off): with HMAC both containers read the same key
        // file from the signing Secret; with ECDSA the inference container gets only the
        // verification key (its volume projects nothing else), so it cannot sign.
        var ecdsa = values == "ecdsa.yaml";
        var signingVolume = ((List<object>)Manifest.Get(pod, "volumes")!).Cast<Dictionary<object, object>>().SingleOrDefault(v => (string)v["name"] == "signing-key");
        Assert.Equal(signing, signingVolume is not null);
        if (signingVolume is not null)
        {
            Assert.Equal(values == "existing.yaml" ? "hardpair-signing" : "demo-hardpair-signing", Manifest.Get(signingVolume, "secret.secretName"));
        }

        var verificationVolume = ((List<object>)Manifest.Get(pod, "volumes")!).Cast<Dictionary<object, object>>().SingleOrDefault(v => (string)v["name"] == "verification-key");
        Assert.Equal(ecdsa, verificationVolume is not null);
        if (verificationVolume is not null)
        {
            var projected = ((List<object>)Manifest.Get(verificationVolume, "secret.items")!).Cast<Dictionary<object, object>>();
            Assert.Equal(["verification-key"], projected.Select(i => (string)i["key"]));
        }

        foreach (var container in containers)
        {
            var volume = ecdsa && (string)container["name"] == "inference" ? "verification-key" : "signing-key";
            var keyFile = ((List<object>)container["env"]).Cast<Dictionary<object, object>>().SingleOrDefault(e => (string)e["name"] == "Checkpoints__SigningKeyFile");
            var mounts = ((List<object>)container["volumeMounts"]).Cast<Dictionary<object, object>>().ToList();
            var mount = mounts.SingleOrDefault(m => (string)m["name"] == volume);
            Assert.Equal(signing, keyFile is not null);
            Assert.Equal(signing, mount is not null);
            if (keyFile is not null && mount is not null)
            {
                Assert.StartsWith((string)mount["mountPath"] + "/", (string)keyFile["value"], StringComparison.Ordinal);
            }

            if (ecdsa && (string)container["name"] == "inference")
            {
                Assert.DoesNotContain(mounts, m => (string)m["name"] == "signing-key");
            }
        }

        var service = rendering.OfKind("Service").Single(s => s.Name == "demo-hardpair");
        Assert.DoesNotContain(service.List("spec.ports"), p => (string)p["name"] == "admin");
        Assert.Equal(values == "scale-out.yaml" ? 1 : 0, rendering.OfKind("Service").Count(s => s.Name == "demo-hardpair-admin"));
    }

    [Fact]
    public void EcdsaSigning_GeneratesAKeyPair_WhoseVerificationKeyChecksWhatTheSigningKeySigns()
    {
        var secret = chart.Render("ecdsa.yaml").OfKind("Secret").Single(s => s.Name == "demo-hardpair-signing");
        string Pem(string key) => System.Text.Encoding.ASCII.GetString(Convert.FromBase64String((string)Manifest.Get(secret.Get("data"), key)!));

        using var signer = System.Security.Cryptography.ECDsa.Create();
        signer.ImportFromPem(Pem("signing-key"));
        using var certificate = X509Certificate2.CreateFromPem(Pem("verification-key"));
        using var verifier = certificate.GetECDsaPublicKey()!;
        var manifest = "{\"version\":\"v1\"}"u8.ToArray();
        var signature = signer.SignData(manifest, System.Security.Cryptography.HashAlgorithmName.SHA256);

        Assert.Equal(256, signer.KeySize);
        Assert.True(verifier.VerifyData(manifest, signature, System.Security.Cryptography.HashAlgorithmName.SHA256));
        Assert.DoesNotContain("PRIVATE", Pem("verification-key"), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void GpuLimits_AreOnTheTrainerOnly_AndOnlyWhenAsked(string? values)
    {
        var containers = chart.Render(values).Single("Deployment").List("spec.template.spec.containers");

        var inference = containers.Single(c => (string)c["name"] == "inference");
        Assert.Null(Manifest.Get(inference, "resources.limits.nvidia.com/gpu"));
        Assert.DoesNotContain("nvidia.com/gpu", ((Dictionary<object, object>)Manifest.Get(inference, "resources.limits")!).Keys.Cast<string>());
        var trainer = containers.SingleOrDefault(c => (string)c["name"] == "trainer");
        if (values == "gpu.yaml")
        {
            var limits = (Dictionary<object, object>)Manifest.Get(trainer, "resources.limits")!;
            Assert.Equal("1", limits["nvidia.com/gpu"].ToString());
            Assert.EndsWith("-cuda\"", $"\"{trainer!["image"]}\"", StringComparison.Ordinal);
        }
        else if (trainer is not null)
        {
            Assert.DoesNotContain("nvidia.com/gpu", ((Dictionary<object, object>)Manifest.Get(trainer, "resources.limits")!).Keys.Cast<string>());
        }
    }

    [Fact]
    public void Tls_ServesHttpsOnEveryPort_ProbesThePlaintextHealthPorts_AndMountsTheSecret()
    {
        var rendering = chart.Render("tls.yaml");
        var pod = rendering.Single("Deployment").Get("spec.template.spec")!;
        var containers = ((List<object>)Manifest.Get(pod, "containers")!).Cast<Dictionary<object, object>>().ToDictionary(c => (string)c["name"]);
        var config = rendering.Single("ConfigMap");
        static Dictionary<string, string> Env(Dictionary<object, object> container) =>
            ((List<object>)container["env"]).Cast<Dictionary<object, object>>().Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);

        var inference = Env(containers["inference"]);
        var trainer = Env(containers["trainer"]);
        Assert.Equal("https://0.0.0.0:50051", inference["Kestrel__Endpoints__Main__Url"]);
        Assert.Equal("https://0.0.0.0:50052", inference["Kestrel__Endpoints__Admin__Url"]);
        Assert.Equal("https://localhost:50061", trainer["Urls"]); // the probes use the health port: loopback is enough
        Assert.Equal("50053", inference["Tls__HealthPort"]);
        Assert.Equal("50062", trainer["Tls__HealthPort"]);
        Assert.Equal("https://localhost:50061", config.Get("data.Sidecar__Address"));
        Assert.Equal("https://localhost:50052", config.Get("data.Notify__InferenceAddress"));
        Assert.Equal("/var/run/hardpair/tls/tls.crt", config.Get("data.Tls__CertificatePath"));
        Assert.Equal("/var/run/hardpair/tls/ca.crt", config.Get("data.Tls__CaPath"));
        Assert.Equal("true", config.Get("data.Tls__RequireClientCertificate"));
        foreach (var (name, healthPort) in new[] { ("inference", "50053"), ("trainer", "50062") })
        {
            foreach (var probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
            {
                Assert.Equal(healthPort, Manifest.Get(containers[name], $"{probe}.grpc.port")!.ToString());
            }

            Assert.Contains(((List<object>)containers[name]["volumeMounts"]).Cast<Dictionary<object, object>>(), m => (string)m["name"] == "tls" && (string)m["mountPath"] == "/var/run/hardpair/tls");
        }

        var volume = ((List<object>)Manifest.Get(pod, "volumes")!).Cast<Dictionary<object, object>>().Single(v => (string)v["name"] == "tls");
        Assert.Equal("hardpair-tls", Manifest.Get(volume, "secret.secretName"));

        // Without TLS nothing of it renders, and the probes use the gRPC ports themselves.
        var plain = chart.Render();
        Assert.Null(plain.Single("ConfigMap").Get("data.Tls__CertificatePath"));
        Assert.Equal("http://127.0.0.1:50061", plain.Single("ConfigMap").Get("data.Sidecar__Address"));
    }

    [Fact]
    public void RateLimit_IsOffByDefault_AndWhenOnIsKeyedByIdentity_WithTheApiKeysSecretMounted()
    {
        var defaults = chart.Render();
        var config = defaults.Single("ConfigMap");
        Assert.Equal("0", config.Get("data.RateLimit__ImagesPerSecond"));
        Assert.Equal("Identity", config.Get("data.RateLimit__Key"));
        Assert.DoesNotContain(defaults.Single("Deployment").List("spec.template.spec.volumes"), v => (string)v["name"] == "api-keys");

        var limited = chart.Render("rate-limit.yaml");
        Assert.Equal("500", limited.Single("ConfigMap").Get("data.RateLimit__ImagesPerSecond"));
        var pod = limited.Single("Deployment").Get("spec.template.spec")!;
        var inference = ((List<object>)Manifest.Get(pod, "containers")!).Cast<Dictionary<object, object>>().Single(c => (string)c["name"] == "inference");
        var env = ((List<object>)inference["env"]).Cast<Dictionary<object, object>>().Where(e => e.ContainsKey("value")).ToDictionary(e => (string)e["name"], e => (string)e["value"]);
        Assert.Equal("/var/run/hardpair/api-keys/api-keys", env["RateLimit__ApiKeysFile"]);
        Assert.Contains(((List<object>)inference["volumeMounts"]).Cast<Dictionary<object, object>>(), m => (string)m["name"] == "api-keys" && (string)m["mountPath"] == "/var/run/hardpair/api-keys");
        var volume = ((List<object>)Manifest.Get(pod, "volumes")!).Cast<Dictionary<object, object>>().Single(v => (string)v["name"] == "api-keys");
        Assert.Equal("hardpair-api-keys", Manifest.Get(volume, "secret.secretName"));
    }

    [Fact]
    public void Tls_WithoutTheSecretsName_RefusesToRender()
    {
        var error = Assert.Throws<InvalidOperationException>(() => chart.Render("tls-no-secret.yaml"));

        Assert.Contains("tls.secretName is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScaleOut_HasLeaseRbacSharedVolumeHpaAndServiceMonitor()
    {
        var rendering = chart.Render("scale-out.yaml");

        var role = rendering.Single("Role");
        var rule = Assert.Single(role.List("rules"));
        Assert.Equal(["leases"], ((List<object>)rule["resources"]).Cast<string>());
        Assert.Equal("demo-hardpair", Manifest.Get(rendering.Single("RoleBinding").List("subjects")[0], "name"));
        Assert.Equal(["ReadWriteMany"], ((List<object>)rendering.Single("PersistentVolumeClaim").Get("spec.accessModes")!).Cast<string>());
        Assert.Equal("8", rendering.Single("HorizontalPodAutoscaler").Get("spec.maxReplicas")!.ToString());
        Assert.Null(rendering.Single("Deployment").Get("spec.replicas"));
        Assert.Equal("prometheus", rendering.Single("ServiceMonitor").Get("metadata.labels.release"));
        Assert.Equal("true", rendering.Single("Deployment").Get("spec.template.spec.automountServiceAccountToken")!.ToString());
        Assert.Equal("true", rendering.Single("ConfigMap").Get("data.LeaderElection__Enabled"));
    }

    [Fact]
    public void WithoutLeaderElection_ThereIsNoRbac_AndTheNotesWarnAboutReplicas()
    {
        var rendering = chart.Render();

        Assert.Empty(rendering.OfKind("Role"));
        Assert.Empty(rendering.OfKind("RoleBinding"));
        Assert.Contains("kubectl -n ml get secret demo-hardpair-token", rendering.Notes, StringComparison.Ordinal);
        Assert.Contains("lost with the pod", rendering.Notes, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void Values_MatchTheSchema_AndTheRenderedYamlPassesYamllint(string? values)
    {
        var rendering = chart.Render(values);

        var result = Evaluate(rendering.ValuesJson);
        Assert.True(result.IsValid, Describe(result));
        var lint = ChartRenderer.Run("yamllint", ["-d", "{extends: default, rules: {line-length: disable, document-start: disable}}", rendering.ManifestsPath]);
        Assert.True(lint.ExitCode == 0, lint.Output + lint.Error);
    }

    [Fact]
    public void Schema_RefusesAMisspelledKey()
    {
        var rendering = chart.Render("misspelled.yaml");

        var result = Evaluate(rendering.ValuesJson);

        Assert.False(result.IsValid);
        Assert.Contains("replicaCont", Describe(result), StringComparison.Ordinal);
    }

    private EvaluationResults Evaluate(string valuesJson)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(chart.Chart, "values.schema.json")));
        using var values = JsonDocument.Parse(valuesJson);
        return schema.Evaluate(values.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static string Describe(EvaluationResults result) => string.Join(
        "; ",
        (result.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
}
