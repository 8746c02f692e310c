using System.ComponentModel.DataAnnotations;

namespace HardPair.Shared.Checkpoints;

/// <summary>Where checkpoints are published and read.</summary>
public sealed class CheckpointStoreOptions
{
    public const string SectionName = "Checkpoints";

    /// <summary>The store folder, shared by the trainer (writer) and the inference service (reader).</summary>
    [Required(AllowEmptyStrings = false)]
    public string Path { get; set; } = "checkpoints";
}
