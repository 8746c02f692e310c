namespace HardPair.ML.Torch;

/// <summary>How the native TorchSharp binding came to be loaded.</summary>
public enum NativeLoadMode
{
    /// <summary>TorchSharp found and loaded its native library on its own.</summary>
    TorchSharpDefault,

    /// <summary>The shipped binding loaded as is from the build output.</summary>
    Direct,

    /// <summary>The host's libstdc++ lacked a version marker; a patched private copy was loaded.</summary>
    PatchedCopy,
}
