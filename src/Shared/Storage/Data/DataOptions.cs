using System.ComponentModel.DataAnnotations;

namespace HardPair.Storage.Data;

/// <summary>Where the training and evaluation data come from.</summary>
public sealed class DataOptions
{
    public const string SectionName = "Data";

    /// <summary>A name known to <see cref="DatasetCatalog"/>: <c>fashion-mnist</c> or <c>mnist</c>.</summary>
    [Required]
    public string Dataset { get; set; } = DatasetCatalog.FashionMnist;

    /// <summary>The folder holding the IDX files; empty for the dataset's default folder.</summary>
    public string? Folder { get; set; }
}
