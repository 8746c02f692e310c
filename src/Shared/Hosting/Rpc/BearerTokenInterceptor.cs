using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace HardPair.Hosting.Rpc;

/// <summary>Refuses calls without <c>authorization: Bearer &lt;token&gt;</c> (constant-time comparison; the token never reaches a log).</summary>
public sealed class BearerTokenInterceptor(string token) : Interceptor
{
    private readonly byte[] expected = Encoding.UTF8.GetBytes(token);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    private void Authenticate(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        const string scheme = "Bearer ";
        if (header is null || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "a bearer token is required (authorization: Bearer <token>)"));
        }

        var presented = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(presented, expected))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the bearer token is not valid"));
        }
    }
}
