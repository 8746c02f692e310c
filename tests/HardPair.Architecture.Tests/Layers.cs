using System.Reflection;

namespace HardPair.Architecture.Tests;

/// <summary>The product's assemblies, lowest layer first, and the root namespace each one owns.</summary>
public static class Layers
{
    public static Assembly Contracts { get; } = typeof(Protos.V1.Classifier).Assembly;

    public static Assembly CommandLine { get; } = typeof(HardPair.CommandLine.CommandArguments).Assembly;

    public static Assembly Storage { get; } = typeof(Storage.Checkpoints.CheckpointManifest).Assembly;

    public static Assembly ML { get; } = typeof(ML.Attacks.AttackCatalog).Assembly;

    public static Assembly Hosting { get; } = typeof(Hosting.ServiceDefaults).Assembly;

    public static Assembly InferenceService { get; } = typeof(InferenceService.Options.InferenceOptions).Assembly;

    public static Assembly TrainerSidecar { get; } = typeof(TrainerSidecar.Options.TrainerOptions).Assembly;

    public static Assembly Cli { get; } = typeof(Cli.CliApp).Assembly;

    public static IReadOnlyList<Assembly> All { get; } = [Contracts, CommandLine, Storage, ML, Hosting, InferenceService, TrainerSidecar, Cli];

    /// <summary>The hand-written assemblies, whose folders are namespaces (the contracts are generated).</summary>
    public static IReadOnlyList<Assembly> HandWritten { get; } = [.. All.Where(a => a != Contracts)];

    /// <summary>The namespace an assembly's folders hang under (the CLI's file is <c>hardpair.dll</c>).</summary>
    public static string RootNamespace(Assembly assembly) => assembly == Cli ? "HardPair.Cli" : assembly.GetName().Name!;
}
