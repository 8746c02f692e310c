using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace HardPair.ML.Torch;

/// <summary>
/// Loads TorchSharp's native binding (<c>libLibTorchSharp.so</c>) before TorchSharp asks for it.
/// TorchSharp 0.107 ships a binding built with GCC 13, which requires the version marker
/// <c>GLIBCXX_3.4.32</c> for one symbol (<c>std::ios_base_library_init()</c>) that nothing
/// relocates against. Hosts with GCC 12's libstdc++ (Debian 12) refuse to load it. On such
/// hosts a private copy whose requirement is flagged weak is written to a cache folder of
/// ours and loaded by full path; TorchSharp's own load by name then finds it by its SONAME.
/// Hosts with a new enough libstdc++ load the shipped file untouched.
/// </summary>
internal static class NativeBinding
{
    public const string BindingFileName = "libLibTorchSharp.so";
    private const string MissingMarker = "GLIBCXX_3.4.32";

    // Loaded in order before the binding so that its dependencies resolve by SONAME
    // even when the binding is loaded from the cache folder (its RUNPATH is $ORIGIN).
    private static readonly string[] Dependencies =
    [
        "libc10.so",
        "libc10_cuda.so",
        "libtorch_cpu.so",
        "libtorch_cuda.so",
        "libtorch.so",
    ];

    public static (NativeLoadMode Mode, string? Path) Load(string? cacheDirectory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return (NativeLoadMode.TorchSharpDefault, null);
        }

        var nativeFolder = FindNativeFolder();
        if (nativeFolder is null)
        {
            return (NativeLoadMode.TorchSharpDefault, null);
        }

        foreach (var dependency in Dependencies)
        {
            var path = Path.Combine(nativeFolder, dependency);
            if (File.Exists(path))
            {
                NativeLibrary.Load(path);
            }
        }

        var shipped = Path.Combine(nativeFolder, BindingFileName);
        string directError;
        try
        {
            NativeLibrary.Load(shipped);
            return (NativeLoadMode.Direct, shipped);
        }
        catch (DllNotFoundException ex)
        {
            directError = ex.Message;
        }

        if (!directError.Contains(MissingMarker, StringComparison.Ordinal))
        {
            throw new TorchRuntimeException($"Cannot load the Torch native binding {shipped}: {directError}");
        }

        var patched = WritePatchedCopy(shipped, ResolveCacheDirectory(cacheDirectory));
        try
        {
            NativeLibrary.Load(patched);
        }
        catch (DllNotFoundException ex)
        {
            throw new TorchRuntimeException(
                $"Cannot load the Torch native binding: the shipped {shipped} failed ({directError}) and the patched copy {patched} failed too ({ex.Message}).");
        }

        return (NativeLoadMode.PatchedCopy, patched);
    }

    internal static string? FindNativeFolder()
    {
        var baseDirectory = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDirectory, "runtimes", "linux-x64", "native"),
            baseDirectory,
        ];
        return candidates.FirstOrDefault(folder => File.Exists(Path.Combine(folder, BindingFileName)));
    }

    internal static string ResolveCacheDirectory(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var fromEnvironment = Environment.GetEnvironmentVariable("HARDPAIR_NATIVE_CACHE");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return fromEnvironment;
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg))
        {
            return Path.Combine(xdg, "hardpair");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home)
            ? Path.Combine(Path.GetTempPath(), "hardpair-cache")
            : Path.Combine(home, ".cache", "hardpair");
    }

    /// <summary>
    /// Writes (once per distinct binding) the copy with the marker requirement flagged weak.
    /// The copy is keyed by the shipped file's hash and written through a temporary name and a
    /// rename, so concurrent processes never see a half-written library.
    /// </summary>
    internal static string WritePatchedCopy(string shipped, string cacheDirectory)
    {
        var bytes = File.ReadAllBytes(shipped);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        var folder = Path.Combine(cacheDirectory, "torchsharp-native", hash);
        var target = Path.Combine(folder, BindingFileName);
        if (File.Exists(target))
        {
            return target;
        }

        if (ElfVersionNeeds.MarkWeak(bytes, MissingMarker) == 0)
        {
            throw new TorchRuntimeException(
                $"The Torch native binding {shipped} needs a libstdc++ this host lacks, and it has no {MissingMarker} requirement to relax.");
        }

        try
        {
            Directory.CreateDirectory(folder);
            var temporary = Path.Combine(folder, $".{BindingFileName}.{Environment.ProcessId}.{Guid.NewGuid():N}");
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, target, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TorchRuntimeException(
                $"Cannot write the patched Torch native binding into {folder}: {ex.Message}. Set Torch:NativeCacheDirectory or HARDPAIR_NATIVE_CACHE to a writable folder.");
        }

        return target;
    }
}
