namespace HardPair.ML.Torch;

/// <summary>Torch could not be set up for this process; the message says why and what to do.</summary>
public sealed class TorchRuntimeException : Exception
{
    public TorchRuntimeException(string message)
        : base(message)
    {
    }

    public TorchRuntimeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
