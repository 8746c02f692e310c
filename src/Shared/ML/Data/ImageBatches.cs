using HardPair.Storage.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Data;

public static class ImageBatches
{
    /// <summary>A batch as tensors: images [B, C, H, W] float32 in [0, 1] and labels [B] int64.</summary>
    public static (Tensor Images, Tensor Labels) Batch(this ImageDataset dataset, ReadOnlySpan<int> indices)
    {
        var elements = dataset.Shape.Elements;
        var buffer = new float[indices.Length * elements];
        var batchLabels = new long[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            var image = dataset.Image(indices[i]);
            var target = buffer.AsSpan(i * elements, elements);
            for (var p = 0; p < elements; p++)
            {
                target[p] = image[p] / 255f;
            }

            batchLabels[i] = dataset.Label(indices[i]);
        }

        var images = torch.tensor(buffer, [indices.Length, dataset.Shape.Channels, dataset.Shape.Height, dataset.Shape.Width]);
        return (images, torch.tensor(batchLabels));
    }
}
