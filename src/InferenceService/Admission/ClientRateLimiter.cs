using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using HardPair.InferenceService.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.Admission;

/// <summary>
/// Admits classification work per client: a token bucket of images for each client (a
/// call costs one permit per image; a call larger than the bucket is refused outright), so
/// one caller that floods the service is refused (RESOURCE_EXHAUSTED with a retry pushback)
/// before its work reaches the batcher, and the others are served as before. The buckets
/// (<see cref="TokenBuckets"/>) run on the service's <see cref="TimeProvider"/>; idle ones are
/// forgotten, so the number of clients seen does not grow memory.
/// </summary>
public sealed class ClientRateLimiter
{
    /// <summary>The standard gRPC trailer telling a client how long to wait before retrying.</summary>
    public const string RetryPushbackTrailer = "grpc-retry-pushback-ms";

    /// <summary>The bucket of callers with neither a client certificate nor an API key (under <see cref="RateLimitKey.Identity"/>).</summary>
    public const string AnonymousClient = "anonymous";

    /// <summary>A client certificate's bucket key, computed once per certificate object (a connection's), not per call.</summary>
    private static readonly ConditionalWeakTable<X509Certificate2, string> CertificateIds = [];

    private readonly RateLimitOptions options;
    private readonly ApiKeys apiKeys;
    private readonly InferenceMetrics metrics;
    private readonly TokenBuckets? buckets;

    public ClientRateLimiter(IOptions<RateLimitOptions> options, ApiKeys apiKeys, InferenceMetrics metrics, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options.Value;
        this.apiKeys = apiKeys;
        this.metrics = metrics;
        buckets = this.options.Enabled ? new TokenBuckets(this.options.ImagesPerSecond, this.options.Burst, time) : null;
    }

    /// <summary>Takes <paramref name="images"/> permits for the calling client (of any protocol: gRPC or REST) or refuses the call.</summary>
    public void Admit(HttpContext context, int images)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (buckets is null)
        {
            return;
        }

        if (images > options.Burst)
        {
            // A call larger than the bucket could never be admitted; charging it less would let
            // batches past the limit.
            metrics.RateLimited();
            throw new RpcException(new Status(
                StatusCode.ResourceExhausted,
                string.Create(CultureInfo.InvariantCulture, $"rate limit: a call of {images} images exceeds this client's burst of {options.Burst}; send smaller batches")));
        }

        if (buckets.TryTake(ClientOf(context), images, out var wait))
        {
            return;
        }

        metrics.RateLimited();
        var waitMs = Math.Max(1, (int)Math.Ceiling(wait.TotalMilliseconds));
        throw new RpcException(
            new Status(StatusCode.ResourceExhausted, string.Create(
                CultureInfo.InvariantCulture,
                $"rate limit: this client may classify {options.ImagesPerSecond} images/s (bursts of {options.Burst}); retry in {waitMs} ms")),
            new Metadata { { RetryPushbackTrailer, waitMs.ToString(CultureInfo.InvariantCulture) } });
    }

    /// <summary>
    /// Whose bucket a call draws on. <see cref="RateLimitKey.Identity"/>: the client certificate
    /// under mutual TLS (its SHA-256 thumbprint: subjects can repeat across issuers), else the
    /// API key the call sends (UNAUTHENTICATED when it is not a configured one), else the shared
    /// anonymous bucket. <see cref="RateLimitKey.PeerAddress"/>: the peer's IP address.
    /// </summary>
    internal string ClientOf(HttpContext context)
    {
        var connection = context.Connection;
        if (options.Key == RateLimitKey.PeerAddress)
        {
            return "ip:" + (connection.RemoteIpAddress?.ToString() ?? connection.Id);
        }

        if (connection.ClientCertificate is { } certificate)
        {
            return CertificateIds.GetValue(certificate, c => "cert:" + c.GetCertHashString(HashAlgorithmName.SHA256));
        }

        if (apiKeys.Configured && context.Request.Headers[ApiKeys.Header] is [{ } key, ..])
        {
            return "key:" + (apiKeys.NameOf(key) ?? throw new RpcException(new Status(StatusCode.Unauthenticated, $"the {ApiKeys.Header} header holds no key this service knows")));
        }

        return AnonymousClient;
    }

}
