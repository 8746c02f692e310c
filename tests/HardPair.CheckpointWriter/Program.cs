using System.Globalization;
using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.ML.Torch;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

// usage: HardPair.CheckpointWriter <store> <count> [architecture] [--stop-after <PublishStep>] [--signing-key <key>]
// With --stop-after, the first publish prints "stopped after <step>" when it reaches that step and
// then waits to be killed, so a test can SIGKILL it at exactly that point.
var positional = args.TakeWhile(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

TorchRuntime.Initialize(new TorchRuntimeOptions { Device = "cpu", Threads = 1 });
var key = Option("--signing-key");
var store = new CheckpointStore(positional[0], TimeProvider.System, key is null ? null : CheckpointSigning.WithKey(key));
var count = int.Parse(positional[1], CultureInfo.InvariantCulture);
var architecture = positional.Length > 2 ? positional[2] : PreActResNet18.ArchitectureName;
if (Option("--stop-after") is { } stop)
{
    var step = Enum.Parse<PublishStep>(stop);
    store.AfterStep = reached =>
    {
        if (reached == step)
        {
            Console.WriteLine($"stopped after {reached}");
            Console.Out.Flush();
            Thread.Sleep(Timeout.Infinite);
        }
    };
}

using var model = ModelRegistry.Create(architecture, 10, ClassifierHeadKind.Cosine);
var draft = TestCheckpoints.Draft(architecture);
Console.WriteLine("ready");
for (var i = 0; i < count; i++)
{
    var manifest = store.Publish(model, draft);
    Console.WriteLine($"published {manifest.Version}");
}
