using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace HardPair.Hosting.Rpc;

/// <summary>
/// Answers a gRPC request whose first frame has a compressed flag other than 0 or 1 with INTERNAL
/// (a malformed frame) before grpc-dotnet sees it: its frame reader throws InvalidDataException
/// there, which it reports as UNKNOWN. The first byte is only peeked, not consumed. Unary calls
/// have one frame, so they are covered whole; on a stream only the first message is checked.
/// </summary>
public static class FrameFlagCheck
{
    public static IApplicationBuilder UseFrameFlagCheck(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
                && await FirstByteAsync(context) is > 1 and var flag)
            {
                context.Response.StatusCode = StatusCodes.Status200OK;
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = ((int)StatusCode.Internal).ToString(System.Globalization.CultureInfo.InvariantCulture);
                context.Response.Headers["grpc-message"] = $"malformed frame: compressed flag {flag}, expected 0 or 1";
                return;
            }

            await next(context);
        });
    }

    private static async Task<int> FirstByteAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        var result = await reader.ReadAtLeastAsync(1, context.RequestAborted);
        var first = result.Buffer.IsEmpty ? -1 : result.Buffer.FirstSpan[0];
        // Nothing consumed and nothing examined: gRPC reads the same bytes next.
        reader.AdvanceTo(result.Buffer.Start);
        return first;
    }
}
