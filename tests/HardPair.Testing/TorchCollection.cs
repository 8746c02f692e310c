using HardPair.ML.Torch;
using Xunit;

namespace HardPair.Testing;

/// <summary>
/// Tests that use Torch share one runtime, started through <see cref="TorchRuntime"/> like every
/// process, and run one at a time: the machines have two cores. xUnit finds collection
/// definitions only in the test assembly, so each test project derives its own
/// <c>[CollectionDefinition(TorchCollection.Name, DisableParallelization = true)]</c> from this.
/// </summary>
public abstract class TorchCollection : ICollectionFixture<TorchFixture>
{
    public const string Name = "torch";
}

public sealed class TorchFixture
{
    public TorchFixture()
    {
        Info = TorchRuntime.Initialize(new TorchRuntimeOptions { Device = "cpu", Threads = Math.Min(2, Environment.ProcessorCount) });
    }

    public TorchRuntimeInfo Info { get; }
}
