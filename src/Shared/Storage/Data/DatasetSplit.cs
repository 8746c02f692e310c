namespace HardPair.Storage.Data;

/// <summary>Which of a dataset's published parts to read.</summary>
public enum DatasetSplit
{
    Train,
    Test,
}
