using HardPair.Shared.Attacks;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Attacks;

[Collection(TorchCollection.Name)]
public sealed class AttackCatalogTests
{
    [Theory]
    [InlineData("fgsm", "fgsm", 1, 0.1)]
    [InlineData("pgd20", "pgd20", 20, 0.01)]
    [InlineData("pgd7", "pgd7", 7, 0.01)]
    [InlineData("cw", "cw", AttackCatalog.CwSteps, 0.01)]
    [InlineData("apgd", "apgd", AttackCatalog.ApgdDefaultSteps, 0.2)]
    [InlineData("apgd50", "apgd50", 50, 0.2)]
    public void Create_KnownName_BuildsThatAttack(string name, string reportedName, int steps, double stepSize)
    {
        var attack = AttackCatalog.Create(name, 0.1, 1, seed: 1);

        Assert.Equal(reportedName, attack.Name);
        Assert.Equal(steps, attack.Steps);
        Assert.Equal(stepSize, attack.StepSize, 12);
        Assert.Equal(0.1, attack.Epsilon);
        Assert.True(AttackCatalog.IsKnown(name));
    }

    [Theory]
    [InlineData("pgd")]
    [InlineData("pgd0")]
    [InlineData("apgd1")]
    [InlineData("PGD20")]
    [InlineData("pgd-20")]
    [InlineData("square")]
    [InlineData("")]
    public void IsKnown_UnknownName_IsFalseAndCreateRefuses(string name)
    {
        Assert.False(AttackCatalog.IsKnown(name));
        Assert.Throws<ArgumentException>(() => AttackCatalog.Create(name, 0.1, 1, seed: 1));
    }

    [Fact]
    public void DefaultEvaluation_IsKnownAndStartsClean()
    {
        Assert.Equal(AttackCatalog.Clean, AttackCatalog.DefaultEvaluation[0]);
        Assert.All(AttackCatalog.DefaultEvaluation, name => Assert.True(AttackCatalog.IsKnown(name)));
    }
}
