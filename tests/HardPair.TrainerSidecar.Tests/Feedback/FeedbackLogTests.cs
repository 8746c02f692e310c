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
