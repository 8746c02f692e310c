using System.Globalization;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Models;
using HardPair.Shared.Torch;
using HardPair.Testing;

// usage: HardPair.CheckpointWriter <store> <count> [architecture]
TorchRuntime.Initialize(new TorchRuntimeOptions { Device = "cpu", Threads = 1 });
var store = new CheckpointStore(args[0], TimeProvider.System);
var count = int.Parse(args[1], CultureInfo.InvariantCulture);
var architecture = args.Length > 2 ? args[2] : PreActResNet18.ArchitectureName;

using var model = ModelRegistry.Create(architecture, 10, ClassifierHeadKind.Cosine);
var draft = TestCheckpoints.Draft(architecture);
Console.WriteLine("ready");
for (var i = 0; i < count; i++)
{
    var manifest = store.Publish(model, draft);
    Console.WriteLine($"published {manifest.Version}");
}
