using System.ComponentModel.DataAnnotations;
using HardPair.Hosting;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Hosting;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class MetricsOptionsTests
{
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("localhost", true)]
    [InlineData("+", true)]
    [InlineData("*", true)]
    [InlineData("::1", true)]
    [InlineData("metrics.example", false)]
    [InlineData("http://0.0.0.0", false)]
    public void PrometheusHost_IsAnAddressLocalhostOrAWildcard_ElseAStartError(string host, bool valid)
    {
        var options = new MetricsOptions { PrometheusPort = 9464, PrometheusHost = host };
        var errors = new List<ValidationResult>();

        var ok = Validator.TryValidateObject(options, new ValidationContext(options), errors, validateAllProperties: true);

        Assert.Equal(valid, ok);
        if (!valid)
        {
            Assert.Contains($"Metrics:PrometheusHost '{host}'", Assert.Single(errors).ErrorMessage, StringComparison.Ordinal);
        }
    }
}
