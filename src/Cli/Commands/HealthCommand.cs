using System.Diagnostics;
using Grpc.Core;
using Grpc.Health.V1;
using HardPair.Cli.Remote;
using HardPair.CommandLine;

namespace HardPair.Cli.Commands;

/// <summary>
/// <c>health</c>: asks a gRPC health service (the standard <c>grpc.health.v1.Health/Check</c>, as a
/// kubelet's gRPC probe does) how one service is — the inference service's or the sidecar's — so
/// that a script or a container joined to a pod can check what the probes check. Exit 0 only for
/// SERVING; with <c>--wait</c>, asks again until it is or the time is up.
/// </summary>
internal static class HealthCommand
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(500);

    public static async Task<int> RunAsync(CommandArguments line, Func<string, string?> environment, TextWriter output, CancellationToken cancellationToken)
    {
        using var connection = Connection.Open(line, environment);
        var service = line.Optional("service") ?? "";
        var wait = TimeSpan.FromSeconds(line.Double("wait", 0, 0, 3600));
        line.RejectUnknown(0);

        var client = new Health.HealthClient(connection.Channel);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            string answer;
            try
            {
                var reply = await client.CheckAsync(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: cancellationToken);
                if (reply.Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    output.WriteLine($"{Name(service)} SERVING at {connection.Address}");
                    return CliApp.Ok;
                }

                answer = reply.Status.ToString().ToUpperInvariant();
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.NotFound)
            {
                answer = ex.StatusCode == StatusCode.NotFound ? "unknown service" : $"unreachable ({ex.Status.Detail})";
            }

            if (clock.Elapsed >= wait)
            {
                output.WriteLine($"{Name(service)} {answer} at {connection.Address}");
                return CliApp.Failed;
            }

            await Task.Delay(Pause, cancellationToken);
        }
    }

    private static string Name(string service) => service.Length == 0 ? "(server)" : service;
}
