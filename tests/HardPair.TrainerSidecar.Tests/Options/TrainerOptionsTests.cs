using HardPair.ML.Attacks;
using HardPair.Testing;
using HardPair.TrainerSidecar.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Tests.Options;

[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class TrainerOptionsTests
{
    [Fact]
    public void Defaults_AreValid_AndTheGateRunsItsSuite()
    {
        var options = Resolve(_ => { });

        Assert.Equal(AttackCatalog.GateSuite, options.Gate.Attack);
        Assert.True(AttackCatalog.IsSuite(options.Gate.Attack));
    }

    [Theory]
    [InlineData("pgd20+bogus", "Trainer:Gate:Attack 'pgd20+bogus' is not an attack")]
    [InlineData("clean", "Trainer:Gate:Attack 'clean' is not an attack")]
    public void Gate_UnknownAttack_FailsValidation(string attack, string message)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(o => o.Gate.Attack = attack));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gate_RangesAreValidatedThoughTheSectionIsNested()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(o => o.Gate.MaxRobustDrop = 2));

        Assert.Contains("Trainer:Gate:", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(GateOptions.MaxRobustDrop), error.Message, StringComparison.Ordinal);
    }

    private static TrainerOptions Resolve(Action<TrainerOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddOptions<TrainerOptions>().Configure(o =>
        {
            o.StatePath = "/tmp/state";
            configure(o);
        }).ValidateDataAnnotations();
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<TrainerOptions>>().Value;
    }
}
