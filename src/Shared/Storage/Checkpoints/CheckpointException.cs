namespace HardPair.Storage.Checkpoints;

/// <summary>A checkpoint failed verification or could not be written; the message says which and why.</summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string location, string fault)
        : base($"checkpoint {location}: {fault}")
    {
        Location = location;
        Fault = fault;
    }

    public CheckpointException(string location, string fault, Exception innerException)
        : base($"checkpoint {location}: {fault}", innerException)
    {
        Location = location;
        Fault = fault;
    }

    public string Location { get; }

    public string Fault { get; }
}
