using System.ComponentModel.DataAnnotations;

namespace HardPair.Shared.Checkpoints;

/// <summary>Where checkpoints are published and read.</summary>
public sealed class CheckpointStoreOptions
{
    public const string SectionName = "Checkpoints";

    /// <summary>The store folder, shared by the trainer (writer) and the inference service (reader).</summary>
    [Required(AllowEmptyStrings = false)]
    public string Path { get; set; } = "checkpoints";

    /// <summary>
    /// A folder of checkpoints copied into the store when the store holds no valid checkpoint, so
    /// that a fresh deployment serves at once (the images ship the bootstrap checkpoint there).
    /// Empty: none.
    /// </summary>
    public string? SeedFrom { get; set; }
}
