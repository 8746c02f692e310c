namespace HardPair.Storage.Checkpoints;

/// <summary>One version folder in a store: its manifest when it reads, or the reason it is refused.</summary>
public sealed record StoredCheckpoint(string Version, string Folder, CheckpointManifest? Manifest, string? Fault)
{
    public bool IsValid => Manifest is not null;
}
