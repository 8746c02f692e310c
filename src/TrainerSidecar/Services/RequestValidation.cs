using Google.Rpc;
using Grpc.Core;

namespace HardPair.TrainerSidecar.Services;

/// <summary>Collects field violations and throws one INVALID_ARGUMENT carrying them as <c>google.rpc.BadRequest</c>.</summary>
internal sealed class RequestValidation
{
    private readonly BadRequest badRequest = new();

    public void Fail(string field, string description) =>
        badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });

    public void ThrowIfInvalid()
    {
        if (badRequest.FieldViolations.Count == 0)
        {
            return;
        }

        var first = badRequest.FieldViolations[0];
        var more = badRequest.FieldViolations.Count > 1 ? $" (and {badRequest.FieldViolations.Count - 1} more)" : "";
        throw new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = $"{first.Field}: {first.Description}{more}",
            Details = { Google.Protobuf.WellKnownTypes.Any.Pack(badRequest) },
        }.ToRpcException();
    }

    public static RpcException NotFound(string what) => new(new Grpc.Core.Status(StatusCode.NotFound, what));
}
