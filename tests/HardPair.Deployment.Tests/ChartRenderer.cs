using System.Diagnostics;
using HardPair.Testing;
using YamlDotNet.Serialization;

namespace HardPair.Deployment.Tests;

/// <summary>
/// Renders helm/hardpair with Helm's template semantics (tests/helm-render: Go text/template +
/// sprig, built from Debian's packages, because no helm binary can be installed here) and parses
/// the manifests.
/// </summary>
public sealed class ChartRenderer : IDisposable
{
    private readonly TempDirectory work = new();

    public ChartRenderer()
    {
        Root = Repository.Root;
        Binary = work.Combine("helm-render");
        var build = Run("bash", [Path.Combine(Root, "tests", "helm-render", "build.sh"), Binary]);
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"building helm-render failed:\n{build.Error}");
        }
    }

    public string Root { get; }

    public string Chart => Path.Combine(Root, "helm", "hardpair");

    private string Binary { get; }

    /// <summary>The manifests for a values file (null: the chart's defaults), with the merged values as JSON and the notes.</summary>
    public Rendering Render(string? valuesFile = null)
    {
        var name = valuesFile is null ? "default" : Path.GetFileNameWithoutExtension(valuesFile);
        var valuesJson = work.Combine($"{name}.values.json");
        var notes = work.Combine($"{name}.notes.txt");
        var manifests = work.Combine($"{name}.yaml");
        List<string> args = ["-chart", Chart, "-name", "demo", "-namespace", "ml", "-values-json", valuesJson, "-notes", notes];
        if (valuesFile is not null)
        {
            args.AddRange(["-f", Path.Combine(AppContext.BaseDirectory, "values", valuesFile)]);
        }

        var result = Run(Binary, args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"rendering failed: {result.Error}");
        }

        File.WriteAllText(manifests, result.Output);
        var deserializer = new DeserializerBuilder().Build();
        var documents = result.Output.Split("\n---\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(text => deserializer.Deserialize<Dictionary<object, object>>(text.TrimStart('-', '\n')))
            .Where(d => d is not null)
            .Select(d => new Manifest(d))
            .ToList();
        return new Rendering(manifests, File.ReadAllText(valuesJson), File.ReadAllText(notes), documents);
    }

    public static (int ExitCode, string Output, string Error) Run(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }

    public void Dispose() => work.Dispose();
}

public sealed record Rendering(string ManifestsPath, string ValuesJson, string Notes, IReadOnlyList<Manifest> Manifests)
{
    public IEnumerable<Manifest> OfKind(string kind) => Manifests.Where(m => m.Kind == kind);

    public Manifest Single(string kind) => Assert.Single(OfKind(kind));
}

/// <summary>One rendered object with path lookups: <c>m["spec.template.spec.containers"]</c>.</summary>
public sealed class Manifest(Dictionary<object, object> root)
{
    public string Kind => (string)root["kind"];

    public string Name => (string)Get("metadata.name")!;

    public object? Get(string path) => Get(root, path);

    public static object? Get(object? node, string path)
    {
        foreach (var part in path.Split('.'))
        {
            if (node is not Dictionary<object, object> map || !map.TryGetValue(part, out node))
            {
                return null;
            }
        }

        return node;
    }

    public IReadOnlyList<Dictionary<object, object>> List(string path) =>
        ((List<object>?)Get(path) ?? []).Cast<Dictionary<object, object>>().ToList();
}
