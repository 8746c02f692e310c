using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using HardPair.CommandLine;
using HardPair.Protos.V1;

namespace HardPair.Cli.Remote;

/// <summary>
/// How the CLI reaches the inference service: <c>--address</c>, else <c>$HARDPAIR_ADDRESS</c>, else
/// the local stack's <c>http://127.0.0.1:50051</c>. The admin token: <c>--token-file</c>, else
/// <c>$HARDPAIR_TOKEN</c>, else <c>$HARDPAIR_TOKEN_FILE</c>, else the local stack's
/// <c>.local/control-token</c> when it exists. The token is never printed.
/// </summary>
internal sealed class Connection : IDisposable
{
    public const string DefaultAddress = "http://127.0.0.1:50051";
    private const string LocalTokenFile = ".local/control-token";

    private readonly GrpcChannel channel;
    private readonly string? token;

    private Connection(string address, string? token)
    {
        channel = GrpcChannel.ForAddress(address);
        this.token = token;
        Address = address;
    }

    public string Address { get; }

    /// <summary>The channel itself, for clients of services other than HardPair's own (gRPC health).</summary>
    public GrpcChannel Channel => channel;

    public Classifier.ClassifierClient Classifier => new(channel);

    public Admin.AdminClient Admin => new(channel.Intercept(headers =>
    {
        headers.Add("authorization", $"Bearer {token ?? throw new UsageException("the admin token is missing: set HARDPAIR_TOKEN or HARDPAIR_TOKEN_FILE, or pass --token-file")}");
        return headers;
    }));

    public static Connection Open(CommandArguments line, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(environment);
        var address = line.Optional("address") ?? environment("HARDPAIR_ADDRESS") ?? DefaultAddress;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new UsageException($"--address must be an http:// or https:// URL, not '{address}'");
        }

        var tokenFile = line.Optional("token-file");
        string? token = null;
        if (tokenFile is not null)
        {
            token = ReadToken(tokenFile);
        }
        else if (environment("HARDPAIR_TOKEN") is { Length: > 0 } fromEnvironment)
        {
            token = fromEnvironment.Trim();
        }
        else if (environment("HARDPAIR_TOKEN_FILE") is { Length: > 0 } file)
        {
            token = ReadToken(file);
        }
        else if (File.Exists(LocalTokenFile))
        {
            token = ReadToken(LocalTokenFile);
        }

        return new Connection(address, token);
    }

    public void Dispose() => channel.Dispose();

    private static string ReadToken(string path) =>
        File.Exists(path) ? File.ReadAllText(path).Trim() : throw new UsageException($"token file '{path}' does not exist");
}
