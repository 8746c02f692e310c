using HardPair.Shared.Data;
using HardPair.Testing;
using HardPair.TrainerSidecar.Feedback;

namespace HardPair.TrainerSidecar.Tests.Feedback;

public sealed class FeedbackLogTests : IDisposable
{
    private static readonly ImageShape Shape = new(1, 28, 28);
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public async Task Append_ThenReopen_ReadsEveryExampleInOrder()
    {
        var examples = Examples(7, seed: 1);
        using (var log = new FeedbackLog(temp.Path, Shape))
        {
            Assert.Equal(3, await log.AppendAsync(examples[..3], "review", TestContext.Current));
            Assert.Equal(7, await log.AppendAsync(examples[3..], "", TestContext.Current));
        }

        using var reopened = new FeedbackLog(temp.Path, Shape);
        var data = reopened.Read("feedback", DatasetCatalog.FashionMnistClasses);

        Assert.Equal(7, reopened.Count);
        Assert.Equal(0, reopened.TornBytes);
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(examples[i].Label, data.Label(i));
            Assert.Equal(examples[i].Pixels, data.Image(i).ToArray());
        }
    }

    [Fact]
    public async Task Open_TornLastRecord_CutsItOffAndKeepsTheRest()
    {
        using (var log = new FeedbackLog(temp.Path, Shape))
        {
            await log.AppendAsync(Examples(3, seed: 2), "x", TestContext.Current);
        }

        var path = temp.Combine(FeedbackLog.FileName);
        var whole = new FileInfo(path).Length;
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(whole - 100); // a crash in the middle of the third record's write
        }

        using var reopened = new FeedbackLog(temp.Path, Shape);

        Assert.Equal(2, reopened.Count);
        Assert.Equal(whole / 3 * 2, new FileInfo(path).Length);
        Assert.True(reopened.TornBytes > 0);
        Assert.Equal(3, await reopened.AppendAsync(Examples(1, seed: 3), "x", TestContext.Current));
    }

    [Fact]
    public async Task Open_DamageBeforeTheLastRecord_IsRefusedNotTruncated()
    {
        using (var log = new FeedbackLog(temp.Path, Shape))
        {
            await log.AppendAsync(Examples(3, seed: 4), "x", TestContext.Current);
        }

        var path = temp.Combine(FeedbackLog.FileName);
        var bytes = File.ReadAllBytes(path);
        bytes[40] ^= 0xFF; // inside the first record's pixels
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<DatasetException>(() => new FeedbackLog(temp.Path, Shape));

        Assert.Contains("damaged at byte 0", error.Message, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, new FileInfo(path).Length);
    }

    [Fact]
    public async Task Append_WrongSizedImage_IsRefusedAndNothingIsWritten()
    {
        using var log = new FeedbackLog(temp.Path, Shape);

        await Assert.ThrowsAsync<ArgumentException>(() => log.AppendAsync([(new byte[10], 1)], "x", TestContext.Current));

        Assert.Equal(0, log.Count);
        Assert.Equal(0, new FileInfo(log.Path).Length);
    }

    [Fact]
    public async Task TwoWriters_OnASharedFolder_AppendToTheirOwnFiles_AndEachCountsAndReadsAll()
    {
        var examples = Examples(9, seed: 5);
        using (var lone = new FeedbackLog(temp.Path, Shape))
        {
            await lone.AppendAsync(examples[..2], "before replicas", TestContext.Current);
        }

        using var a = new FeedbackLog(temp.Path, Shape, writer: "hardpair-7d9f-a");
        using var b = new FeedbackLog(temp.Path, Shape, writer: "hardpair-7d9f-b");

        Assert.Equal(5, await a.AppendAsync(examples[2..5], "a", TestContext.Current));
        Assert.Equal(9, await b.AppendAsync(examples[5..], "b", TestContext.Current));
        Assert.Equal(9, a.Count);
        Assert.Equal(9, b.Count);
        Assert.NotEqual(a.Path, b.Path);
        const int recordBytes = 12 + 4 + 1 + 28 * 28; // header, label and source length, source "a"/"b", pixels
        Assert.Equal(3 * recordBytes, new FileInfo(a.Path).Length);
        Assert.Equal(4 * recordBytes, new FileInfo(b.Path).Length);

        // The leader trains on every replica's examples: files in name order, each in append order.
        var data = a.Read("feedback", DatasetCatalog.FashionMnistClasses);
        Assert.Equal(9, data.Count);
        int[] order = [2, 3, 4, 5, 6, 7, 8, 0, 1]; // feedback-hardpair-7d9f-a.log, feedback-hardpair-7d9f-b.log, feedback.log
        for (var i = 0; i < order.Length; i++)
        {
            Assert.Equal(examples[order[i]].Pixels, data.Image(i).ToArray());
        }
    }

    [Fact]
    public async Task Count_AnotherWritersAppendInFlight_IsNeitherCountedNorCutOff_UntilItIsWhole()
    {
        using var a = new FeedbackLog(temp.Path, Shape, writer: "a");
        using (var b = new FeedbackLog(temp.Path, Shape, writer: "b"))
        {
            await b.AppendAsync(Examples(2, seed: 6), "b", TestContext.Current);
        }

        var bPath = temp.Combine("feedback-b.log");
        var whole = File.ReadAllBytes(bPath);
        var record = whole.Length / 2;
        File.WriteAllBytes(bPath, whole[..(record + 100)]); // b's second append, 100 bytes of it on disk so far
        Assert.Equal(1, a.Count);

        using (var reopened = new FeedbackLog(temp.Path, Shape, writer: "a"))
        {
            Assert.Equal(1, reopened.Count);
        }

        Assert.Equal(record + 100, new FileInfo(bPath).Length);
        using (var stream = new FileStream(bPath, FileMode.Append))
        {
            stream.Write(whole.AsSpan(record + 100));
        }

        Assert.Equal(2, a.Count);
        Assert.Equal(2, a.Read("feedback", DatasetCatalog.FashionMnistClasses).Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("../x")]
    [InlineData("a/b")]
    public void Open_WriterNameThatIsNoFileName_IsRefused(string writer) =>
        Assert.Throws<ArgumentException>(() => new FeedbackLog(temp.Path, Shape, writer));

    internal static (byte[] Pixels, int Label)[] Examples(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            var pixels = new byte[Shape.Elements];
            random.NextBytes(pixels);
            return (pixels, random.Next(10));
        })];
    }
}
