using Google.Rpc;
using Grpc.Core;

namespace HardPair.Hosting.Rpc;

/// <summary>Field violations of one request, thrown together as INVALID_ARGUMENT with a <c>google.rpc.BadRequest</c>.</summary>
public sealed class RequestViolations
{
    public static RpcException NotFound(string what) => new(new Grpc.Core.Status(StatusCode.NotFound, what));

    private readonly BadRequest badRequest = new();

    public bool Any => badRequest.FieldViolations.Count > 0;

    public void Add(string field, string description) =>
        badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });

    public void ThrowIfAny()
    {
        if (!Any)
        {
            return;
        }

        var first = badRequest.FieldViolations[0];
        var more = badRequest.FieldViolations.Count > 1 ? $" (and {badRequest.FieldViolations.Count - 1} more)" : "";
        throw new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = $"{first.Field} {first.Description}{more}",
            Details = { Google.Protobuf.WellKnownTypes.Any.Pack(badRequest) },
        }.ToRpcException();
    }
}
