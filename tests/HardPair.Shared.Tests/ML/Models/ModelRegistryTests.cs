using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.ML.Models;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ModelRegistryTests
{
    public static TheoryData<string, ClassifierHeadKind> Architectures()
    {
        var data = new TheoryData<string, ClassifierHeadKind>();
        foreach (var name in ModelRegistry.Names)
        {
            data.Add(name, ClassifierHeadKind.Cosine);
            data.Add(name, ClassifierHeadKind.Linear);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Forward_InputShape_GivesTenLogits(string name, ClassifierHeadKind head)
    {
        var shape = ModelRegistry.Get(name).InputShape;
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(name, 10, head);
        model.eval();

        var logits = model.forward(torch.rand(3, shape.Channels, shape.Height, shape.Width));

        Assert.Equal(new long[] { 3, 10 }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void SaveLoad_RoundTrip_IsBitExact(string name, ClassifierHeadKind head)
    {
        var shape = ModelRegistry.Get(name).InputShape;
        using var scope = torch.NewDisposeScope();
        using var original = ModelRegistry.Create(name, 10, head);
        using var restored = ModelRegistry.Create(name, 10, head);
        // Train mode once so batch-norm running statistics are not at their initial values.
        original.train();
        original.forward(torch.rand(8, shape.Channels, shape.Height, shape.Width));
        original.eval();
        restored.eval();

        byte[] saved;
        using (var buffer = new MemoryStream())
        {
            original.save(buffer); // closes the stream
            saved = buffer.ToArray();
        }

        using (var buffer = new MemoryStream(saved))
        {
            restored.load(buffer, strict: true);
        }

        var expected = original.state_dict();
        var actual = restored.state_dict();
        Assert.Equal(expected.Keys, actual.Keys);
        Assert.All(expected, pair => Assert.True(Tensors.Identical(actual[pair.Key], pair.Value), pair.Key));
        var input = torch.rand(2, shape.Channels, shape.Height, shape.Width);
        Assert.True(Tensors.Identical(original.forward(input), restored.forward(input)));
    }

    [Fact]
    public void SmallCnn_LayerNames_AreTheCheckpointFormat()
    {
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);

        Assert.Equal(
            ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "head.weight", "head.bias"],
            model.state_dict().Keys);
    }

    [Fact]
    public void PreActResNet18_LayerNames_AreTheCheckpointFormat()
    {
        using var model = ModelRegistry.Create(PreActResNet18.ArchitectureName, 10, ClassifierHeadKind.Linear);
        var keys = model.state_dict().Keys.ToList();

        Assert.Equal("conv1.weight", keys[0]);
        Assert.Contains("layer2.0.shortcut.weight", keys);
        Assert.Contains("layer4.1.bn2.running_var", keys);
        Assert.Contains("bn.running_mean", keys);
        Assert.Contains("head.weight", keys);
        Assert.Equal(107, keys.Count); // 8 blocks x 12 + 3 shortcuts + stem conv + final bn (5) + head (2)
    }

    [Fact]
    public void CosineHead_Logits_AreCosinesPlusBias()
    {
        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        model.eval();

        var logits = model.forward(torch.rand(16, 1, 28, 28));

        // Bias starts at zero, so logits are cosines.
        Assert.True(logits.abs().max().item<float>() <= 1.0001f);
    }

    [Fact]
    public void Create_UnknownName_ListsTheKnownOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelRegistry.Create("resnet-50", 10, ClassifierHeadKind.Linear));
        Assert.Contains("small-cnn", error.Message, StringComparison.Ordinal);
        Assert.Contains("preact-resnet18", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registry_ComparedWithTheStorageCatalog_BuildsExactlyItsArchitecturesAndHeads()
    {
        // Manifests are verified against NetworkCatalog without Torch; the registry must build what it accepts.
        Assert.Equal(NetworkCatalog.Names.Order(StringComparer.Ordinal), ModelRegistry.Names.Order(StringComparer.Ordinal));
        Assert.All(NetworkCatalog.Architectures, spec => Assert.Equal(spec.InputShape, ModelRegistry.Get(spec.Name).InputShape));
        Assert.Equal(
            NetworkCatalog.Heads.Order(StringComparer.Ordinal),
            Enum.GetNames<ClassifierHeadKind>().Select(h => h.ToLowerInvariant()).Order(StringComparer.Ordinal));
    }
}
