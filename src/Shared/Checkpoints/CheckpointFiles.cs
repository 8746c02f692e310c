using System.Text.Json;
using System.Text.Json.Serialization;

namespace HardPair.Shared.Checkpoints;

/// <summary>The on-disk names and the JSON form of a checkpoint folder.</summary>
public static class CheckpointFiles
{
    public const string Weights = "model.bin";
    public const string Manifest = "manifest.json";

    /// <summary>HMAC-SHA256 of the manifest's bytes, hex; present when the store signs (<see cref="CheckpointSigning"/>).</summary>
    public const string Signature = "manifest.sig";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };
}
