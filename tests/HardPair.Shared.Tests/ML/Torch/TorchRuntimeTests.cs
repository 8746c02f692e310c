using HardPair.ML.Models;
using HardPair.ML.Torch;
using HardPair.Testing;
using TorchSharp;

namespace HardPair.Shared.Tests.ML.Torch;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TorchRuntimeTests(TorchFixture fixture)
{
    [Fact]
    public void Initialize_ByDefault_RetainsFreedMemoryOnGlibcHosts()
    {
        // The test host starts Torch with the default options, as the services do.
        Assert.True(new TorchRuntimeOptions().RetainFreedMemory);
        if (OperatingSystem.IsLinux() && File.Exists("/lib/x86_64-linux-gnu/libc.so.6"))
        {
            Assert.True(fixture.Info.HeapTuned);
            Assert.True(HeapTuning.Apply());
        }
    }

    [Fact]
    public void Initialize_InTestHost_LoadsBindingAndRunsForwardAndBackward()
    {
        Assert.Equal("cpu", fixture.Info.Device);
        if (OperatingSystem.IsLinux())
        {
            Assert.Contains(fixture.Info.NativeLoad, new[] { NativeLoadMode.Direct, NativeLoadMode.PatchedCopy });
        }

        using var scope = torch.NewDisposeScope();
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var input = torch.rand(4, 1, 28, 28, requires_grad: true);
        var loss = torch.nn.functional.cross_entropy(model.forward(input).mul(8), torch.tensor(new long[] { 0, 1, 2, 3 }));
        loss.backward();

        Assert.True(double.IsFinite(loss.item<float>()));
        Assert.All(model.parameters(), p => Assert.True(p.grad is not null && p.grad.isfinite().all().item<bool>()));
        Assert.True(input.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Initialize_CalledAgain_KeepsTheFirstSetup()
    {
        var again = TorchRuntime.Initialize(new TorchRuntimeOptions { Device = "cpu", Threads = 1 });
        Assert.Same(fixture.Info, again);
    }

    [Fact]
    public void PatchedCopy_OfShippedBinding_IsWrittenToCacheWithOnlyTheMarkerRelaxed()
    {
        var folder = NativeBinding.FindNativeFolder();
        Assert.NotNull(folder);
        var shipped = Path.Combine(folder, NativeBinding.BindingFileName);
        using var cache = new TempDirectory();

        var patched = NativeBinding.WritePatchedCopy(shipped, cache.Path);

        Assert.StartsWith(cache.Path, patched, StringComparison.Ordinal);
        var before = File.ReadAllBytes(shipped);
        var after = File.ReadAllBytes(patched);
        Assert.Equal(before.Length, after.Length);
        Assert.Single(Enumerable.Range(0, before.Length), i => before[i] != after[i]);
        var requirement = Assert.Single(ElfVersionNeeds.Read(after), r => r.Version == "GLIBCXX_3.4.32");
        Assert.True(requirement.IsWeak);
        Assert.All(ElfVersionNeeds.Read(after).Where(r => r.Version != "GLIBCXX_3.4.32"), r => Assert.False(r.IsWeak));
        Assert.Equal(patched, NativeBinding.WritePatchedCopy(shipped, cache.Path));
    }

    [Fact]
    public void ElfVersionNeeds_NotAnElfFile_Throws()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(new byte[128]));
    }

    [Theory]
    [InlineData("auto", DeviceKind.Auto, null)]
    [InlineData("cpu", DeviceKind.Cpu, null)]
    [InlineData("CUDA", DeviceKind.Cuda, null)]
    [InlineData("cuda:1", DeviceKind.Cuda, 1)]
    public void DeviceRequest_Parse_AcceptsKnownForms(string text, DeviceKind kind, int? index)
    {
        Assert.Equal(new DeviceRequest(kind, index), DeviceRequest.Parse(text));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("")]
    public void DeviceRequest_Parse_RefusesUnknownForms(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => DeviceRequest.Parse(text));
        Assert.Contains("auto, cpu, cuda or cuda:N", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_CudaWithoutCuda_ExplainsWhy()
    {
        var error = Assert.Throws<TorchRuntimeException>(() => TorchRuntime.Choose(new DeviceRequest(DeviceKind.Cuda, null), cudaAvailable: false));
        Assert.Contains("CUDA is not available", error.Message, StringComparison.Ordinal);
        Assert.Equal(torch.CPU.type, TorchRuntime.Choose(new DeviceRequest(DeviceKind.Auto, null), cudaAvailable: false).type);
    }

    [Fact]
    public void Options_InvalidValues_FailValidation()
    {
        var options = new TorchRuntimeOptions { Device = "tpu", Threads = -1 };
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        Assert.False(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true));
        Assert.Equal(2, results.Count);
    }
}
