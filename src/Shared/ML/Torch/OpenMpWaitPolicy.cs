using System.Runtime.InteropServices;

namespace HardPair.ML.Torch;

/// <summary>
/// How libtorch's OpenMP worker threads wait between parallel regions. libgomp reads
/// <c>OMP_WAIT_POLICY</c> once, when libtorch loads it; by default its idle workers spin for a
/// while before they sleep, which is right for a process that does nothing else and burns CPU
/// in one that has request threads to run. Passive waiting makes them sleep at once.
/// </summary>
internal static partial class OpenMpWaitPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>
    /// Asks for passive waiting in the native environment (where libgomp reads it) unless the
    /// operator already set the variable, whose value then stands; call before libtorch loads.
    /// </summary>
    public static void PreferPassive()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            SetEnv(Variable, "PASSIVE", overwrite: 0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not a C library with setenv: libgomp's default applies.
        }
    }

    /// <summary>The policy libgomp will read: the native environment's value, or "default" when unset.</summary>
    public static string Current()
    {
        if (OperatingSystem.IsWindows())
        {
            return Environment.GetEnvironmentVariable(Variable) ?? "default";
        }

        try
        {
            // The native environment, not .NET's copy of it taken at start.
            var value = GetEnv(Variable);
            return value == IntPtr.Zero ? "default" : Marshal.PtrToStringUTF8(value) ?? "default";
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return Environment.GetEnvironmentVariable(Variable) ?? "default";
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);
}
