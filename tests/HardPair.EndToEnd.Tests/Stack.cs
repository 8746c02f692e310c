using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary>
/// The local stack as the README runs it: the sidecar and the inference service as two real
/// processes from their own build folders, on loopback, sharing a store seeded with the shipped
/// bootstrap checkpoint.
/// </summary>
public sealed class Stack : IAsyncDisposable
{
    public const string Token = "end-to-end-token-0123456789";
    private static readonly TimeSpan Startup = TimeSpan.FromMinutes(1);

    private Stack(TempDirectory root, Uri inferenceAddress, Uri sidecarAddress, IReadOnlyDictionary<string, string?> trainerSettings, TestCertificates? tls, string? signingKey)
    {
        Root = root;
        InferenceAddress = inferenceAddress;
        SidecarAddress = sidecarAddress;
        TrainerSettings = trainerSettings;
        Tls = tls;
        SigningKey = signingKey;
    }

    /// <summary>
    /// When set, both processes sign / require signed checkpoints with it (as Helm deploys them):
    /// HMAC text shared by both, or <see cref="EcdsaSigning"/> — the trainer gets a private key,
    /// the inference service only the public one, and both trust the bootstrap folder unsigned.
    /// </summary>
    public string? SigningKey { get; }

    /// <summary>The <see cref="SigningKey"/> that asks for an ECDSA key pair instead of an HMAC key.</summary>
    public const string EcdsaSigning = "ecdsa";

    /// <summary>
    /// When set, both processes serve https with mutual TLS and call each other through it, and
    /// answer health checks alone in plaintext on <see cref="InferenceHealthPort"/> /
    /// <see cref="SidecarHealthPort"/> (as the kubelet's probes need).
    /// </summary>
    public TestCertificates? Tls { get; }

    public int InferenceHealthPort { get; } = ServiceProcess.FreePort();

    public int SidecarHealthPort { get; } = ServiceProcess.FreePort();

    public TempDirectory Root { get; }

    public string Store => Root.Combine("store");

    public Uri InferenceAddress { get; }

    public Uri SidecarAddress { get; }

    public IReadOnlyDictionary<string, string?> TrainerSettings { get; }

    public ServiceProcess? Inference { get; private set; }

    public ServiceProcess? Sidecar { get; private set; }

    public static string RepositoryRoot => Repository.Root;

    public static string BootstrapVersion => Path.GetFileName(Directory.GetDirectories(Path.Combine(RepositoryRoot, "models", "bootstrap"))[0]);

    /// <summary>A stack whose store holds the bootstrap checkpoint; nothing started yet.</summary>
    /// <param name="signingKey">Sign checkpoints: the operator signs the bootstrap copy, the trainer what it publishes.</param>
    public static Stack Create(IReadOnlyDictionary<string, string?>? trainerOverrides = null, bool mutualTls = false, string? signingKey = null)
    {
        var root = new TempDirectory();
        Directory.CreateDirectory(root.Combine("store"));
        var bootstrap = Path.Combine(RepositoryRoot, "models", "bootstrap", BootstrapVersion);
        var target = root.Combine("store", BootstrapVersion);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(bootstrap))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        if (signingKey is EcdsaSigning)
        {
            // The bootstrap copy stays unsigned: both processes trust the bootstrap folder (SeedFrom).
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            Directory.CreateDirectory(root.Combine("signing"));
            File.WriteAllText(root.Combine("signing", "trainer.pem"), key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(root.Combine("signing", "inference.pem"), key.ExportSubjectPublicKeyInfoPem());
        }
        else if (signingKey is not null)
        {
            var manifest = File.ReadAllBytes(Path.Combine(target, CheckpointFiles.Manifest));
            var signature = System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(signingKey), manifest);
            File.WriteAllText(Path.Combine(target, CheckpointFiles.Signature), Convert.ToHexStringLower(signature));
        }

        var settings = new Dictionary<string, string?>
        {
            ["Torch:Threads"] = "1",
            ["Trainer:Continuous"] = "false",
            ["Trainer:Epochs"] = "0.5",
            ["Trainer:TrainSubset"] = "2000",
            ["Trainer:AttackSteps"] = "3",
            ["Trainer:SnapshotEvery"] = "2",
            ["Trainer:Gate:Examples"] = "200",
            ["Trainer:Gate:TestExamples"] = "200",
            ["Trainer:Gate:Attack"] = "apgd-ce5+apgd-t1x5",
            ["Trainer:Gate:MaxRobustDrop"] = "0.25",
            ["Trainer:Gate:MinCleanAccuracy"] = "0.3",
        };
        foreach (var (key, value) in trainerOverrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var scheme = mutualTls ? "https" : "http";
        return new Stack(
            root,
            new Uri($"{scheme}://127.0.0.1:{ServiceProcess.FreePort()}"),
            new Uri($"{scheme}://127.0.0.1:{ServiceProcess.FreePort()}"),
            settings,
            mutualTls ? TestCertificates.Create(root.Combine("tls")) : null,
            signingKey);
    }

    /// <summary>Copies checkpoint <paramref name="from"/> as version <paramref name="to"/> (same weights, its manifest renamed), landing it whole as a publish does.</summary>
    public string CopyCheckpoint(string from, string to) => CopyCheckpoint(Store, Path.Combine(Store, from), to);

    /// <summary>Copies the checkpoint folder <paramref name="from"/> into <paramref name="store"/> as version <paramref name="to"/> (its manifest renamed: the weights' hash still matches, any signature is left behind).</summary>
    public static string CopyCheckpoint(string store, string from, string to)
    {
        var original = Path.GetFileName(from);
        var staging = Path.Combine(store, $".{to}");
        Directory.CreateDirectory(staging);
        foreach (var file in Directory.GetFiles(from).Where(f => Path.GetFileName(f) != CheckpointFiles.Signature))
        {
            var text = Path.GetFileName(file) == CheckpointFiles.Manifest ? File.ReadAllText(file).Replace(original, to, StringComparison.Ordinal) : null;
            if (text is null)
            {
                File.Copy(file, Path.Combine(staging, Path.GetFileName(file)));
            }
            else
            {
                File.WriteAllText(Path.Combine(staging, Path.GetFileName(file)), text);
            }
        }

        Directory.Move(staging, Path.Combine(store, to));
        return to;
    }

    /// <param name="settings">Extra configuration for this start (Section:Key → value).</param>
    public async Task StartInferenceAsync(CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? settings = null)
    {
        string[] args =
        [
            "--contentRoot", Executables.Folder("InferenceService"),
            "--Checkpoints:Path", Store,
            "--Admin:Token", Token,
            "--Sidecar:Address", SidecarAddress.ToString(),
            "--Sidecar:Token", Token,
            "--Sidecar:Timeout", "00:00:01",
            "--Inference:PollInterval", "00:00:01",
            "--Torch:Threads", "1",
            "--Torch:Device", "cpu",
            .. TlsArguments(InferenceHealthPort),
            .. SigningArguments(trainer: false),
            .. (settings ?? new Dictionary<string, string>()).SelectMany(kv => new[] { $"--{kv.Key}", kv.Value }),
        ];
        Inference = await ServiceProcess.StartAsync(Executables.Path("InferenceService", "HardPair.InferenceService"), args, Startup, cancellationToken, InferenceAddress, ClientHandler());
    }

    public async Task StartSidecarAsync(CancellationToken cancellationToken)
    {
        string[] args =
        [
            "--contentRoot", Executables.Folder("TrainerSidecar"),
            "--Checkpoints:Path", Store,
            "--Trainer:StatePath", Root.Combine("trainer"),
            "--Control:Token", Token,
            "--Notify:InferenceAddress", InferenceAddress.ToString(),
            "--Notify:Token", Token,
            "--Torch:Device", "cpu",
            .. TrainerSettings.SelectMany(kv => new[] { $"--{kv.Key}", kv.Value ?? "" }),
            .. TlsArguments(SidecarHealthPort),
            .. SigningArguments(trainer: true),
        ];
        Sidecar = await ServiceProcess.StartAsync(Executables.Path("TrainerSidecar", "HardPair.TrainerSidecar"), args, Startup, cancellationToken, SidecarAddress, ClientHandler());
    }

    /// <summary>The handler of a legitimate client: trusts the test CA and presents the client certificate.</summary>
    public HttpMessageHandler? ClientHandler() => Tls?.Handler(Tls.ClientCertificatePath, Tls.ClientKeyPath);

    private string[] SigningArguments(bool trainer) => SigningKey switch
    {
        null => [],
        EcdsaSigning =>
        [
            "--Checkpoints:SigningKeyFile", Root.Combine("signing", trainer ? "trainer.pem" : "inference.pem"),
            "--Checkpoints:SeedFrom", Path.Combine(RepositoryRoot, "models", "bootstrap"),
        ],
        _ => ["--Checkpoints:SigningKey", SigningKey],
    };

    private string[] TlsArguments(int healthPort) => Tls is null ? [] :
    [
        "--Tls:CertificatePath", Tls.ServerCertificatePath,
        "--Tls:KeyPath", Tls.ServerKeyPath,
        "--Tls:CaPath", Tls.CaPath,
        "--Tls:RequireClientCertificate", "true",
        "--Tls:HealthPort", healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
    ];

    public Classifier.ClassifierClient Classifier() => new(Inference!.Channel);

    /// <summary>The sidecar's own control API (not through the inference service).</summary>
    public Trainer.TrainerClient TrainerControl() => new(Sidecar!.Channel.Intercept(headers =>
    {
        headers.Add("authorization", $"Bearer {Token}");
        return headers;
    }));

    public Admin.AdminClient Admin() => new(Inference!.Channel.Intercept(headers =>
    {
        headers.Add("authorization", $"Bearer {Token}");
        return headers;
    }));

    public async ValueTask DisposeAsync()
    {
        if (Inference is not null)
        {
            await Inference.DisposeAsync();
        }

        if (Sidecar is not null)
        {
            await Sidecar.DisposeAsync();
        }

        Root.Dispose();
    }
}

/// <summary>The solution's executables in their own build folders, in the configuration these tests were built in.</summary>
public static class Executables
{
    /// <summary>Release or Debug, and the target framework, read from where this test assembly was built.</summary>
    private static readonly string[] BuildPath = System.IO.Path.GetRelativePath(
        System.IO.Path.Combine(Stack.RepositoryRoot, "tests", "HardPair.EndToEnd.Tests", "bin"),
        AppContext.BaseDirectory).Split(System.IO.Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);

    public static string Folder(string project) => System.IO.Path.Combine([Stack.RepositoryRoot, "src", project, "bin", .. BuildPath]);

    public static string Path(string project, string assembly) => System.IO.Path.Combine(Folder(project), assembly);
}
