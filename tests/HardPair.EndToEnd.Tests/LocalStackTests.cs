using System.Diagnostics;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using HardPair.Protos.V1;
using HardPair.Testing;

namespace HardPair.EndToEnd.Tests;

/// <summary><c>scripts/run-local.sh</c> itself — the README's first command — on ports and folders of the test's own.</summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.EndToEnd)]
public sealed class LocalStackTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromMinutes(5);

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task RunLocal_SignsWithAKeyOfItsOwn_ServesTheBootstrap_AndListsForgedAndOlderUnsignedVersionsAsRefused()
    {
        var ct = TestContext.Current;
        using var root = new TempDirectory();
        var store = root.Combine("store");
        Directory.CreateDirectory(store);
        // A store left by an older local stack that did not sign: the bootstrap copy and a version
        // its sidecar published.
        var bootstrap = Path.Combine(Stack.RepositoryRoot, "models", "bootstrap", Stack.BootstrapVersion);
        Stack.CopyCheckpoint(store, bootstrap, Stack.BootstrapVersion);
        var older = Stack.CopyCheckpoint(store, bootstrap, "v20261130T000000000Z-0000000c");
        var inference = new Uri($"http://127.0.0.1:{ServiceProcess.FreePort()}");
        var environment = new Dictionary<string, string>
        {
            ["HARDPAIR_INFERENCE_URL"] = inference.ToString().TrimEnd('/'),
            ["HARDPAIR_TRAINER_URL"] = $"http://127.0.0.1:{ServiceProcess.FreePort()}",
            ["HARDPAIR_STORE"] = store,
            ["HARDPAIR_TRAINER_STATE"] = root.Combine("trainer"),
            ["HARDPAIR_TOKEN_FILE"] = root.Combine("secrets", "control-token"),
            ["HARDPAIR_SIGNING_KEY_FILE"] = root.Combine("secrets", "signing-key"),
            ["HARDPAIR_REST_PORT"] = ServiceProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

        await using var stack = await LocalStack.StartAsync(environment, inference, ct);
        var token = (await File.ReadAllTextAsync(environment["HARDPAIR_TOKEN_FILE"], ct)).Trim();
        var key = (await File.ReadAllTextAsync(environment["HARDPAIR_SIGNING_KEY_FILE"], ct)).Trim();

        // Somebody with write access to the volume but not the key drops a copy of the bootstrap
        // under a newer version: its manifest's hash of the weights is right, its signature absent.
        var forged = Stack.CopyCheckpoint(store, bootstrap, "v29990101T000000000Z-f0f0f0f0");
        var admin = new Admin.AdminClient(stack.Channel);
        var headers = new Metadata { { "authorization", $"Bearer {token}" } };
        await admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = forged }, headers, cancellationToken: ct);
        var served = await new Classifier.ClassifierClient(stack.Channel).GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: ct);
        var list = await ChildProcess.RunAsync(Executables.Path("Cli", "hardpair"), ["models", "list"], TimeSpan.FromMinutes(1), ct, new Dictionary<string, string> { ["HARDPAIR_ADDRESS"] = inference.ToString(), ["HARDPAIR_TOKEN"] = token });
        // The README's curl call, against the REST twin the script starts.
        var curl = await CurlAsync($"http://127.0.0.1:{environment["HARDPAIR_REST_PORT"]}/v2/models/classifier", ct);
        var output = await stack.StopAsync();

        Assert.Equal(Stack.BootstrapVersion, served.Version);
        Assert.True(curl.ExitCode == 0, curl.Error);
        using (var metadata = System.Text.Json.JsonDocument.Parse(curl.Output))
        {
            Assert.Equal(Stack.BootstrapVersion, metadata.RootElement.GetProperty("versions")[0].GetString());
        }

        Assert.True(list.ExitCode == 0, list.Error);
        foreach (var refused in new[] { forged, older })
        {
            var line = Assert.Single(list.Output.Split('\n'), l => l.StartsWith(refused, StringComparison.Ordinal));
            Assert.Contains("refused", line, StringComparison.Ordinal);
            Assert.Contains("manifest.sig is missing", list.Output, StringComparison.Ordinal);
        }

        // The key: long enough for HMAC, private to its owner, never printed.
        Assert.True(key.Length >= 32, $"a {key.Length}-character key");
        foreach (var secret in new[] { environment["HARDPAIR_SIGNING_KEY_FILE"], environment["HARDPAIR_TOKEN_FILE"] })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
        }

        Assert.DoesNotContain(key, output, StringComparison.Ordinal);
        Assert.Contains(environment["HARDPAIR_SIGNING_KEY_FILE"], output, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output, string Error)> CurlAsync(string url, CancellationToken ct)
    {
        var start = new System.Diagnostics.ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-sS");
        start.ArgumentList.Add("--fail");
        start.ArgumentList.Add(url);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>The script in a process group of its own (so that both services go with it), its output collected.</summary>
    private sealed class LocalStack : IAsyncDisposable
    {
        private readonly Process process;
        private readonly StringBuilder output = new();

        private LocalStack(Process process, Uri address)
        {
            this.process = process;
            Channel = GrpcChannel.ForAddress(address);
        }

        public GrpcChannel Channel { get; }

        public static async Task<LocalStack> StartAsync(IReadOnlyDictionary<string, string> environment, Uri address, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo("setsid", ["bash", "scripts/run-local.sh"])
            {
                WorkingDirectory = Stack.RepositoryRoot,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var (name, value) in environment)
            {
                start.Environment[name] = value;
            }

            var stack = new LocalStack(Process.Start(start) ?? throw new InvalidOperationException("could not start run-local.sh"), address);
            stack.process.OutputDataReceived += (_, e) => stack.Append(e.Data);
            stack.process.ErrorDataReceived += (_, e) => stack.Append(e.Data);
            stack.process.BeginOutputReadLine();
            stack.process.BeginErrorReadLine();
            try
            {
                await stack.WaitUntilServingAsync(cancellationToken);
            }
            catch
            {
                await stack.DisposeAsync();
                throw;
            }

            return stack;
        }

        /// <summary>SIGTERM to the script, as Ctrl-C would; returns everything it printed.</summary>
        public async Task<string> StopAsync()
        {
            Signal("TERM");
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(deadline.Token);
            lock (output)
            {
                return output.ToString();
            }
        }

        public async ValueTask DisposeAsync()
        {
            Channel.Dispose();
            if (!process.HasExited)
            {
                Signal("KILL");
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        /// <summary>Signals the whole process group: the script and both services.</summary>
        private void Signal(string signal)
        {
            using var kill = Process.Start("kill", [$"-{signal}", "--", $"-{process.Id}"]);
            kill.WaitForExit();
        }

        private async Task WaitUntilServingAsync(CancellationToken cancellationToken)
        {
            var health = new Grpc.Health.V1.Health.HealthClient(Channel);
            var deadline = DateTime.UtcNow + Startup;
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"run-local.sh exited with {process.ExitCode}:\n{output}");
                }

                try
                {
                    var reply = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = "hardpair.v1.Classifier" }, deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
                    if (reply.Status == Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving)
                    {
                        return;
                    }
                }
                catch (RpcException)
                {
                    // Still building or starting.
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"run-local.sh did not serve within {Startup}:\n{output}");
                }

                await Task.Delay(500, cancellationToken);
            }
        }
    }
}
