using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Data;

/// <summary>
/// A dataset's images (as bytes) and labels uploaded to an accelerator once, so that a training
/// step gathers its batch there instead of assembling it on the host and copying it over: on a
/// GPU a small model's step takes a few milliseconds, of which the host-side batch was a fair
/// share. Batches hold the same values as <see cref="ImageDataset.Batch"/>'s (bytes / 255 in
/// float32; equal bit for bit on the CPU, where it is tested — a CUDA division by a scalar may
/// differ in the last bit).
/// </summary>
public sealed class DeviceResidentDataset : IDisposable
{
    private readonly Tensor images;
    private readonly Tensor labels;

    public DeviceResidentDataset(ImageDataset data, Device device)
    {
        ArgumentNullException.ThrowIfNull(data);
        var shape = data.Shape;
        var bytes = new byte[(long)data.Count * shape.Elements];
        var classes = new long[data.Count];
        for (var i = 0; i < data.Count; i++)
        {
            data.Image(i).CopyTo(bytes.AsSpan(checked(i * shape.Elements), shape.Elements));
            classes[i] = data.Label(i);
        }

        // Both leave the scope only once both exist: a failed upload frees what was uploaded.
        using var scope = torch.NewDisposeScope();
        var uploadedImages = torch.tensor(bytes, [data.Count, shape.Channels, shape.Height, shape.Width]).to(device);
        var uploadedLabels = torch.tensor(classes).to(device);
        images = uploadedImages.MoveToOuterDisposeScope();
        labels = uploadedLabels.MoveToOuterDisposeScope();
    }

    /// <summary>Images [B, C, H, W] float32 in [0, 1] and labels [B] int64, on the device.</summary>
    public (Tensor Images, Tensor Labels) Batch(int[] indices)
    {
        using var index = torch.tensor(indices.Select(i => (long)i).ToArray()).to(images.device);
        return (images.index_select(0, index).to(ScalarType.Float32).div_(255f), labels.index_select(0, index));
    }

    public void Dispose()
    {
        images.Dispose();
        labels.Dispose();
    }
}
