namespace HardPair.EndToEnd.Tests;

[CollectionDefinition(HardPair.Testing.TorchCollection.Name, DisableParallelization = true)]
public sealed class TorchTests : HardPair.Testing.TorchCollection;
