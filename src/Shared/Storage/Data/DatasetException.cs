namespace HardPair.Storage.Data;

/// <summary>A dataset file is missing or broken; the message names the file and the fault.</summary>
public sealed class DatasetException : Exception
{
    public DatasetException(string path, string fault)
        : base($"{path}: {fault}")
    {
        FilePath = path;
        Fault = fault;
    }

    public DatasetException(string path, string fault, Exception innerException)
        : base($"{path}: {fault}", innerException)
    {
        FilePath = path;
        Fault = fault;
    }

    public string FilePath { get; }

    public string Fault { get; }
}
