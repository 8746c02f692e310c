using HardPair.InferenceService.Admission;
using HardPair.InferenceService.Options;
using HardPair.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace HardPair.InferenceService.Tests.Admission;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ApiKeysTests : IDisposable
{
    private readonly TempDirectory folder = new();
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.Zero));

    public void Dispose() => folder.Dispose();

    [Fact]
    public void AKeysFile_NamesItsClients_AndARotatedFileIsReadOnceASecondHasPassed()
    {
        var path = folder.Combine("keys");
        File.WriteAllLines(path, ["alpha:alpha-key-0123456789abcdef"]);
        var keys = Create(path);
        Assert.Equal("alpha", keys.NameOf("alpha-key-0123456789abcdef"));
        Assert.Null(keys.NameOf("beta-key-0123456789abcdef"));

        // The Secret is rotated: alpha's key is replaced by beta's.
        File.WriteAllLines(path, ["beta:beta-key-0123456789abcdef"]);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal("alpha", keys.NameOf("alpha-key-0123456789abcdef"));
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(keys.NameOf("alpha-key-0123456789abcdef"));
        Assert.Equal("beta", keys.NameOf("beta-key-0123456789abcdef"));
    }

    [Fact]
    public void ABrokenRotation_LeavesTheLastGoodKeysInForce()
    {
        var path = folder.Combine("keys");
        File.WriteAllLines(path, ["alpha:alpha-key-0123456789abcdef"]);
        var keys = Create(path);

        File.WriteAllLines(path, ["alpha:short"]);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("alpha", keys.NameOf("alpha-key-0123456789abcdef"));
    }

    [Theory]
    [InlineData("no-colon-0123456789abcdef", "line 2")]
    [InlineData("alpha:short", "at least 16")]
    [InlineData(":nameless-key-0123456789", "line 2")]
    [InlineData("beta:alpha-key-0123456789abcdef", "already given")]
    public void ABadLine_IsRefusedWithItsLineNumber(string line, string expected)
    {
        var error = Assert.Throws<FormatException>(() => ApiKeys.Parse(["alpha:alpha-key-0123456789abcdef", line], "keys"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AKeysFileThatDoesNotParse_IsRefusedWhenTheOptionsAreValidated_NotAtTheFirstCall()
    {
        var path = folder.Combine("keys");
        File.WriteAllLines(path, ["alpha:short"]);
        var options = new RateLimitOptions { ImagesPerSecond = 10, ApiKeysFile = path };

        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true);

        Assert.Contains(results, r => r.ErrorMessage!.Contains("line 1", StringComparison.Ordinal));
    }

    private ApiKeys Create(string path) =>
        new(Microsoft.Extensions.Options.Options.Create(new RateLimitOptions { ImagesPerSecond = 10, ApiKeysFile = path }), time, NullLogger<ApiKeys>.Instance);
}
