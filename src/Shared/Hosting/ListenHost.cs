using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace HardPair.Hosting;

/// <summary>
/// The address a side server of its own binds (the metrics scrape, the Open Inference REST twin):
/// an IP address, <c>localhost</c>, or <c>+</c> (also <c>*</c>, <c>0.0.0.0</c>, <c>::</c>) for
/// every interface — as its options take it and as Kestrel is told it.
/// </summary>
public static class ListenHost
{
    public static bool IsEverywhere(string host) => host is "+" or "*" or "0.0.0.0" or "::";

    public static bool IsValid(string host) => IsEverywhere(host) || host == "localhost" || IPAddress.TryParse(host, out _);

    /// <summary>Listens on <paramref name="port"/> of <paramref name="host"/> with <paramref name="protocols"/>.</summary>
    public static void Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        void Configure(ListenOptions listen) => listen.Protocols = protocols;
        if (IsEverywhere(host))
        {
            kestrel.ListenAnyIP(port, Configure);
        }
        else if (host == "localhost")
        {
            kestrel.ListenLocalhost(port, Configure);
        }
        else
        {
            kestrel.Listen(IPAddress.Parse(host), port, Configure);
        }
    }
}
