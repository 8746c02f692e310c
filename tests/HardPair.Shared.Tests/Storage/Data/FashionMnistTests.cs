using System.IO.Compression;
using HardPair.ML.Data;
using HardPair.Storage.Data;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Storage.Data;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class FashionMnistTests
{
    private static readonly string Folder = DatasetCatalog.DefaultFolder(DatasetCatalog.FashionMnist);

    [Fact]
    public void Load_Train_Has60000BalancedImagesOf28x28()
    {
        var train = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Train);

        Assert.Equal(60_000, train.Count);
        Assert.Equal(new ImageShape(1, 28, 28), train.Shape);
        Assert.Equal(10, train.ClassNames.Count);
        Assert.Equal("Shirt", train.ClassNames[6]);
        var perClass = Enumerable.Range(0, train.Count).GroupBy(train.Label).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(10, perClass.Count);
        Assert.All(perClass.Values, n => Assert.Equal(6_000, n));
    }

    [Fact]
    public void Load_Test_Has10000Images()
    {
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        Assert.Equal(10_000, test.Count);
        Assert.Equal(9, test.Label(0)); // the first test image is an ankle boot
    }

    [Fact]
    public void Load_UncompressedCopy_ReadsTheSameData()
    {
        using var temp = new TempDirectory();
        foreach (var stem in new[] { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
        {
            using var input = new GZipStream(File.OpenRead(Path.Combine(Folder, stem + ".gz")), CompressionMode.Decompress);
            using var output = File.Create(temp.Combine(stem));
            input.CopyTo(output);
        }

        var raw = DatasetCatalog.Load(new DataOptions { Folder = temp.Path }, DatasetSplit.Test);
        var gz = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        Assert.Equal(gz.Count, raw.Count);
        Assert.True(gz.Image(1234).SequenceEqual(raw.Image(1234)));
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        using var temp = new TempDirectory();
        var error = Assert.Throws<DatasetException>(() => DatasetCatalog.Load(new DataOptions { Folder = temp.Path }, DatasetSplit.Test));
        Assert.EndsWith("t10k-images-idx3-ubyte.gz", error.FilePath, StringComparison.Ordinal);
        Assert.Equal("file not found", error.Fault);
    }

    [Fact]
    public void Load_TruncatedGzip_ReportsTruncationOrCorruption()
    {
        using var temp = CopyTestSplit();
        var images = temp.Combine("t10k-images-idx3-ubyte.gz");
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length / 2)]);

        var error = Assert.Throws<DatasetException>(() => DatasetCatalog.Load(new DataOptions { Folder = temp.Path }, DatasetSplit.Test));
        Assert.Equal(images, error.FilePath);
        Assert.Matches("truncated|corrupt gzip", error.Fault);
    }

    [Fact]
    public void Load_TruncatedRawFile_SaysHowManyBytesAreMissing()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("images");
        File.WriteAllBytes(path, [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);

        var error = Assert.Throws<DatasetException>(() => IdxFile.Read(path, IdxFile.ImagesMagic));
        Assert.Equal("truncated: the header promises 1568 data bytes (2x28x28) but only 3 follow", error.Fault);
        Assert.StartsWith(path + ": ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WrongMagic_ReportsBothMagicNumbers()
    {
        using var temp = CopyTestSplit();
        // Swap the two files' roles: the labels file where images are expected.
        var images = temp.Combine("t10k-images-idx3-ubyte.gz");
        File.Copy(temp.Combine("t10k-labels-idx1-ubyte.gz"), images, overwrite: true);

        var error = Assert.Throws<DatasetException>(() => DatasetCatalog.Load(new DataOptions { Folder = temp.Path }, DatasetSplit.Test));
        Assert.Equal(images, error.FilePath);
        Assert.Equal("wrong magic number 2049 (0x00000801); expected 2051 (0x00000803)", error.Fault);
    }

    [Fact]
    public void Load_MismatchedCounts_NamesTheLabelsFile()
    {
        using var temp = CopyTestSplit();
        var labels = temp.Combine("t10k-labels-idx1-ubyte.gz");
        File.Copy(Path.Combine(Folder, "train-labels-idx1-ubyte.gz"), labels, overwrite: true);

        var error = Assert.Throws<DatasetException>(() => DatasetCatalog.Load(new DataOptions { Folder = temp.Path }, DatasetSplit.Test));
        Assert.Equal(labels, error.FilePath);
        Assert.Equal("holds 60000 labels but t10k-images-idx3-ubyte.gz holds 10000 images", error.Fault);
    }

    [Fact]
    public void Load_LabelOutsideClasses_IsRefused()
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.Combine("t10k-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]);
        File.WriteAllBytes(temp.Combine("t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 1, 12]);

        var error = Assert.Throws<DatasetException>(() => DatasetCatalog.Load(new DataOptions { Folder = temp.Path }, DatasetSplit.Test));
        Assert.Equal("label 12 at index 0 is outside the 10 classes", error.Fault);
    }

    [Fact]
    public void Split_SameSeed_IsDeterministicAndDisjoint()
    {
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        var (trainA, validationA) = test.Split(0.1, seed: 7);
        var (trainB, validationB) = test.Split(0.1, seed: 7);
        var (_, validationC) = test.Split(0.1, seed: 8);

        Assert.Equal(1_000, validationA.Count);
        Assert.Equal(9_000, trainA.Count);
        Assert.Equal(validationA.SourceRows, validationB.SourceRows);
        Assert.Equal(trainA.SourceRows, trainB.SourceRows);
        Assert.NotEqual(validationA.SourceRows, validationC.SourceRows);
        Assert.Empty(trainA.SourceRows.Intersect(validationA.SourceRows));
        Assert.Equal(test.Count, trainA.SourceRows.Union(validationA.SourceRows).Count());
    }

    [Fact]
    public void Subset_SameSeed_PicksTheSameExamples()
    {
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        var a = test.Subset(500, seed: 3);
        var b = test.Subset(500, seed: 3);

        Assert.Equal(500, a.Count);
        Assert.Equal(a.SourceRows, b.SourceRows);
        Assert.NotEqual(a.SourceRows, test.Subset(500, seed: 4).SourceRows);
        Assert.Equal(10, Labels(a).Distinct().Count());
    }

    [Fact]
    public void Batch_ImagesAreScaledToUnitRange()
    {
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);

        var (images, labels) = test.Batch([0, 1, 2]);
        using (images)
        using (labels)
        {
            Assert.Equal(new long[] { 3, 1, 28, 28 }, images.shape);
            Assert.Equal(0f, images.min().item<float>());
            Assert.Equal(1f, images.max().item<float>());
            Assert.Equal(test.Image(1)[400] / 255f, images[1, 0, 14, 8].item<float>());
            Assert.Equal(new long[] { 9, 2, 1 }, labels.data<long>().ToArray());
        }
    }

    private static TempDirectory CopyTestSplit()
    {
        var temp = new TempDirectory();
        foreach (var name in new[] { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
        {
            File.Copy(Path.Combine(Folder, name), temp.Combine(name));
        }

        return temp;
    }

    private static int[] Labels(ImageDataset data) => [.. Enumerable.Range(0, data.Count).Select(data.Label)];

    [Fact]
    public void Concat_KeepsBothPartsInOrder_AndRefusesAnotherShape()
    {
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test);
        var first = test.Take(3);
        var extra = new ImageDataset("feedback", new byte[2 * 784], [7, 9], new ImageShape(1, 28, 28), test.ClassNames);

        var joined = first.Concat(extra, "joined");

        Assert.Equal(5, joined.Count);
        Assert.Equal("joined", joined.Name);
        Assert.Equal(test.Image(2).ToArray(), joined.Image(2).ToArray());
        Assert.Equal([test.Label(0), test.Label(1), test.Label(2), 7, 9], Enumerable.Range(0, 5).Select(joined.Label));
        var other = new ImageDataset("rgb", new byte[3 * 32 * 32], [0], new ImageShape(3, 32, 32), test.ClassNames);
        Assert.Throws<ArgumentException>(() => first.Concat(other, "bad"));
    }
}
