using System.Reflection;
using System.Text.Json;
using HardPair.Testing;

namespace HardPair.Architecture.Tests;

/// <summary>
/// What each layer may build on. Checked on the compiled assemblies' references (the compiler
/// records only the assemblies a project's code actually uses), and for the CLI on everything it
/// ships.
/// </summary>
[Trait(TestKind.Trait, TestKind.Unit)]
public class LayerReferenceTests
{
    private static readonly string[] AspNetAndGrpcServer = ["Microsoft.AspNetCore", "Grpc.AspNetCore", "Grpc.Net.Client", "Grpc.Core.Api", "HardPair.Hosting", "HardPair.Contracts"];
    private static readonly string[] Torch = ["TorchSharp", "HardPair.ML"];
    private static readonly string[] Services = ["HardPair.InferenceService", "HardPair.TrainerSidecar", "hardpair"];

    public static TheoryData<string, string> Forbidden => new()
    {
        // The ML core: Torch, models, attacks, objectives, training, evaluation — no ASP.NET, no gRPC.
        { "HardPair.ML", string.Join(',', AspNetAndGrpcServer.Concat(Services)) },
        // Checkpoints and data files: readable without Torch (the CLI verifies and describes checkpoints).
        { "HardPair.Storage", string.Join(',', AspNetAndGrpcServer.Concat(Torch).Concat(Services)) },
        // The hosts' shared defaults: no Torch (the services start it themselves).
        { "HardPair.Hosting", string.Join(',', Torch.Concat(Services)) },
        { "HardPair.CommandLine", string.Join(',', AspNetAndGrpcServer.Concat(Torch).Concat(Services).Append("HardPair.Storage")) },
        // A gRPC client: no Torch, no server.
        { "hardpair", string.Join(',', Torch.Concat(["Microsoft.AspNetCore", "Grpc.AspNetCore", "HardPair.Hosting", "HardPair.InferenceService", "HardPair.TrainerSidecar"])) },
    };

    [Theory]
    [MemberData(nameof(Forbidden))]
    public void References_OfEachLayer_LeaveOutWhatItMustNotBuildOn(string layer, string forbidden)
    {
        var assembly = Layers.All.Single(a => a.GetName().Name == layer);
        var offending = Offending(Closure(assembly), forbidden.Split(','));

        Assert.True(offending.Count == 0, $"{layer} builds on {string.Join(", ", offending)}");
    }

    [Fact]
    public void ReferenceRule_OnAProjectThatUsesTorch_Fails()
    {
        // The rule's own check: the trainer uses Torch, so the CLI's rule must catch it there.
        var offending = Offending(Closure(Layers.TrainerSidecar), Torch);

        Assert.Contains("TorchSharp", offending);
    }

    [Fact]
    public void Cli_AsBuilt_ShipsNeitherTorchSharpNorLibtorch()
    {
        var deps = Path.Combine(Repository.Root, "src", "Cli", "bin", Configuration(), "net10.0", "hardpair.deps.json");
        Assert.True(File.Exists(deps), $"{deps} is missing: build the solution first");

        using var document = JsonDocument.Parse(File.ReadAllText(deps));
        var libraries = document.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToList();

        Assert.NotEmpty(libraries);
        Assert.DoesNotContain(libraries, l => l.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || l.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || l.StartsWith("HardPair.ML/", StringComparison.Ordinal));
    }

    /// <summary>The assembly and every HardPair assembly it reaches, each with its direct references.</summary>
    private static List<AssemblyName> Closure(Assembly root)
    {
        var seen = new Dictionary<string, AssemblyName>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>([root]);
        while (pending.TryPop(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (seen.TryAdd(reference.Name!, reference) && IsOurs(reference))
                {
                    pending.Push(Assembly.Load(reference));
                }
            }
        }

        return [.. seen.Values];
    }

    private static bool IsOurs(AssemblyName name) => name.Name!.StartsWith("HardPair.", StringComparison.Ordinal) || name.Name == "hardpair";

    private static List<string> Offending(List<AssemblyName> references, IEnumerable<string> forbidden) =>
        [.. references.Select(r => r.Name!).Where(name => forbidden.Any(f => name == f || name.StartsWith(f + ".", StringComparison.Ordinal))).Order(StringComparer.Ordinal)];

    private static string Configuration() => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
}
