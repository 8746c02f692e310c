using System.Buffers.Binary;
using System.Net;
using Grpc.Core;

namespace HardPair.EndToEnd.Tests;

/// <summary>
/// gRPC calls with hand-made bodies over HTTP/2 (no gRPC client in the way): malformed length
/// prefixes, truncated frames, garbage messages. Returns the grpc-status the server answered with.
/// </summary>
public sealed class RawGrpc(Uri address) : IDisposable
{
    private readonly HttpClient http = new(new SocketsHttpHandler()) { BaseAddress = address };

    public static byte[] Header(bool compressed, int length)
    {
        var header = new byte[5];
        header[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), (uint)length);
        return header;
    }

    public static byte[] Frame(byte[] message, bool compressed = false) => [.. Header(compressed, message.Length), .. message];

    public async Task<StatusCode> CallAsync(string path, byte[] body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var content = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var trailer) ? trailer.First()
            : response.Headers.TryGetValues("grpc-status", out var header) ? header.First()
            : throw new InvalidOperationException($"HTTP {(int)response.StatusCode} {response.Version} without grpc-status: {System.Text.Encoding.UTF8.GetString(content)}");
        return (StatusCode)int.Parse(status, System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose() => http.Dispose();
}
