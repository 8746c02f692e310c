namespace HardPair.Testing;

/// <summary>
/// What a test class starts, as its <c>[Trait("Kind", …)]</c>, so that one kind runs alone:
/// <c>dotnet test HardPair.Services.sln --no-build --filter Kind=Unit</c>. Every test class has
/// exactly one (HardPair.Architecture.Tests checks it).
/// </summary>
public static class TestKind
{
    public const string Trait = "Kind";

    /// <summary>In the test process only: objects, files in a temp folder, Torch, the dataset. No server, no child process.</summary>
    public const string Unit = "Unit";

    /// <summary>Trains a network for real in the test process (tens of seconds to minutes): the methods' short runs, trained fixtures.</summary>
    public const string Training = "Training";

    /// <summary>A service's real Kestrel host on loopback inside the test process, called over gRPC.</summary>
    public const string Server = "Server";

    /// <summary>Real child processes: the built executables, a crash-at-each-step writer, the chart renderer, Python.</summary>
    public const string Process = "Process";

    /// <summary>The whole stack as separate processes, driven as an operator and a client would (tests/HardPair.EndToEnd.Tests).</summary>
    public const string EndToEnd = "EndToEnd";

    /// <summary>All kinds; the container checks (scripts/images/ci.sh) are scripts of their own, outside dotnet test.</summary>
    public static IReadOnlyList<string> All { get; } = [Unit, Training, Server, Process, EndToEnd];
}
