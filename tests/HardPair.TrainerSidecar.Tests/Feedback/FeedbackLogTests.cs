using HardPair.Storage.Data;
using HardPair.Testing;
using HardPair.TrainerSidecar.Feedback;

namespace HardPair.TrainerSidecar.Tests.Feedback;

[Trait(TestKind.Trait, TestKind.Unit)]
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
    public async Task Open_TornLastAppend_CutsItOffWhole_AndKeepsTheAppendsBefore()
    {
        var path = temp.Combine(FeedbackLog.FileName);
        long first;
        using (var log = new FeedbackLog(temp.Path, Shape))
        {
            await log.AppendAsync(Examples(2, seed: 2), "x", TestContext.Current);
            first = new FileInfo(path).Length;
            await log.AppendAsync(Examples(3, seed: 3), "x", TestContext.Current);
        }

        var whole = new FileInfo(path).Length;
        using (var stream = new FileStream(path, FileMode.Open))
        {
            // A crash in the middle of the second append's write: two of its three examples are
            // whole on disk, but the call was never acknowledged, so none of it counts.
            stream.SetLength(whole - 100);
        }

        using var reopened = new FeedbackLog(temp.Path, Shape);

        Assert.Equal(2, reopened.Count);
        Assert.Equal(first, new FileInfo(path).Length);
        Assert.Equal(whole - 100 - first, reopened.TornBytes);
        Assert.Equal(3, await reopened.AppendAsync(Examples(1, seed: 4), "x", TestContext.Current));
    }

    [Fact]
    public async Task Append_ARetriedRequestId_IsStoredOnce_AlsoAfterReopening_AndFromAnotherWritersFile()
    {
        var examples = Examples(3, seed: 7);
        using (var log = new FeedbackLog(temp.Path, Shape, writer: "a"))
        {
            Assert.Equal(new FeedbackAppend(3, 3, Duplicate: false), await log.AppendAsync(examples, "x", "call-1", TestContext.Current));
            Assert.Equal(new FeedbackAppend(3, 3, Duplicate: true), await log.AppendAsync(examples, "x", "call-1", TestContext.Current));
        }

        using var reopened = new FeedbackLog(temp.Path, Shape, writer: "a");
        using var other = new FeedbackLog(temp.Path, Shape, writer: "b");

        Assert.Equal(new FeedbackAppend(3, 3, Duplicate: true), await reopened.AppendAsync(examples, "x", "call-1", TestContext.Current));
        Assert.Equal(new FeedbackAppend(3, 3, Duplicate: true), await other.AppendAsync(examples, "x", "call-1", TestContext.Current));
        Assert.Equal(new FeedbackAppend(1, 4, Duplicate: false), await other.AppendAsync(examples[..1], "x", "call-2", TestContext.Current));
        Assert.Equal(new FeedbackAppend(1, 4, Duplicate: true), await reopened.AppendAsync(examples[..1], "x", "call-2", TestContext.Current));
        Assert.Equal(4, reopened.Read("feedback", DatasetCatalog.FashionMnistClasses).Count);
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
        const int callBytes = 12 + 2 + 32 + 4; // header, id length, a 32-character id, example count
        const int recordBytes = 12 + 4 + 1 + 28 * 28; // header, label and source length, source "a"/"b", pixels
        Assert.Equal(callBytes + (3 * recordBytes), new FileInfo(a.Path).Length);
        Assert.Equal(callBytes + (4 * recordBytes), new FileInfo(b.Path).Length);

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
            await b.AppendAsync(Examples(1, seed: 6), "b", TestContext.Current);
            await b.AppendAsync(Examples(1, seed: 8), "b", TestContext.Current);
        }

        var bPath = temp.Combine("feedback-b.log");
        var whole = File.ReadAllBytes(bPath);
        var record = whole.Length / 2; // two appends of the same size
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
