// Robustness report: reads the per-method JSON summaries that bench/robustness/compare.sh wrote
// (the offline `train` command's output), prints the comparison table and writes table.md,
// report.json, one adversarial confusion heatmap per method and the training curves as PNG.
//
//   dotnet run -c Release --project bench/Report -- bench/results/robustness-<stamp>
using HardPair.Bench.Report;

if (args.Length != 1 || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: HardPair.Bench.Report <results folder written by bench/robustness/compare.sh>");
    return 2;
}

var folder = args[0];
var runs = MethodRun.LoadAll(folder);
if (runs.Count == 0)
{
    Console.Error.WriteLine($"no <method>.json summaries in {folder}");
    return 2;
}

var table = ComparisonTable.Markdown(runs);
Console.Write(table);
File.WriteAllText(Path.Combine(folder, "table.md"), table);
File.WriteAllText(Path.Combine(folder, "report.json"), ComparisonTable.Json(runs));
foreach (var path in Charts.Write(runs, folder))
{
    Console.WriteLine($"wrote {path}");
}

return 0;
