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

    [Theory]
    [InlineData("Epochs", 0.0, "Trainer:Epochs must be a number from 0.01 to 10000, not 0.")]
    [InlineData("LearningRate", 11.0, "Trainer:LearningRate must be a number from 1E-06 to 10, not 11.")]
    [InlineData("ScratchLearningRate", -1.0, "Trainer:ScratchLearningRate must be a number from 1E-06 to 10, not -1.")]
    [InlineData("BatchSize", 5000.0, "Trainer:BatchSize must be a whole number from 1 to 4096, not 5000.")]
    [InlineData("AttackSteps", 0.0, "Trainer:AttackSteps must be a whole number from 1 to 1000, not 0.")]
    [InlineData("Epsilon", 1.5, "Trainer:Epsilon must be a number from 0 to 1, not 1.5.")]
    public void TrainingSetting_OutsideTheCatalogsRange_FailsValidationNamingIt(string setting, double value, string message)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(o => typeof(TrainerOptions).GetProperty(setting)!.SetValue(o, Convert.ChangeType(value, typeof(TrainerOptions).GetProperty(setting)!.PropertyType, System.Globalization.CultureInfo.InvariantCulture))));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainingDefaults_AreTheCatalogs()
    {
        var options = new TrainerOptions();

        Assert.Equal(HardPair.ML.Recipes.HyperParameters.DefaultBatchSize, options.BatchSize);
        Assert.Equal(HardPair.ML.Recipes.HyperParameters.DefaultAttackSteps, options.AttackSteps);
        Assert.Equal(HardPair.ML.Recipes.HyperParameters.DefaultEpsilon, options.Epsilon);
        Assert.Equal(HardPair.ML.Recipes.HyperParameters.SearchedLearningRate, options.ScratchLearningRate);
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
