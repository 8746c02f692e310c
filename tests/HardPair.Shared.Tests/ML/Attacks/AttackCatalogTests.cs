using HardPair.ML.Attacks;
using HardPair.Testing;

namespace HardPair.Shared.Tests.ML.Attacks;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class AttackCatalogTests
{
    [Theory]
    [InlineData("fgsm", "fgsm", 1, 0.1)]
    [InlineData("pgd20", "pgd20", 20, 0.01)]
    [InlineData("pgd7", "pgd7", 7, 0.01)]
    [InlineData("cw", "cw", AttackCatalog.CwSteps, 0.01)]
    [InlineData("apgd", "apgd-ce", AttackCatalog.ApgdDefaultSteps, 0.2)]
    [InlineData("apgd50", "apgd-ce50", 50, 0.2)]
    [InlineData("apgd-ce", "apgd-ce", AttackCatalog.ApgdDefaultSteps, 0.2)]
    [InlineData("apgd-ce40", "apgd-ce40", 40, 0.2)]
    [InlineData("apgd-dlr", "apgd-dlr", AttackCatalog.ApgdDefaultSteps, 0.2)]
    [InlineData("apgd-dlr30", "apgd-dlr30", 30, 0.2)]
    [InlineData("apgd-t", "apgd-t", AttackCatalog.ApgdDefaultSteps, 0.2)]
    [InlineData("apgd-t3", "apgd-t3", AttackCatalog.ApgdDefaultSteps, 0.2)]
    [InlineData("apgd-t3x20", "apgd-t3x20", 20, 0.2)]
    [InlineData("apgd-tx20", "apgd-tx20", 20, 0.2)]
    [InlineData("square", "square", AttackCatalog.SquareDefaultQueries, 0.1)]
    [InlineData("square300", "square300", 300, 0.1)]
    [InlineData("autoattack", "autoattack", 0, 0)]
    [InlineData("apgd-ce+apgd-t3", "apgd-ce+apgd-t3", 0, 0)]
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
    [InlineData("square0")]
    [InlineData("apgd-t0")]
    [InlineData("apgd-t3x1")]
    [InlineData("apgd-t3x")]
    [InlineData("apgd-dlr1")]
    [InlineData("apgd-ce+")]
    [InlineData("apgd-ce+autoattack")]
    [InlineData("apgd-ce+clean")]
    [InlineData("clean+apgd-ce")]
    [InlineData("")]
    public void IsKnown_UnknownName_IsFalseAndCreateRefuses(string name)
    {
        Assert.False(AttackCatalog.IsKnown(name));
        Assert.Throws<ArgumentException>(() => AttackCatalog.Create(name, 0.1, 1, seed: 1));
    }

    [Fact]
    public void Create_AutoAttack_IsApgdCeThenApgdTThenSquare_AllSharingTheSeed()
    {
        var suite = Assert.IsType<AttackSuite>(AttackCatalog.Create(AttackCatalog.AutoAttack, 0.1, 8, seed: 3));

        Assert.Equal(["apgd-ce", "apgd-t", "square"], suite.Attacks.Select(a => a.Name));
        Assert.Equal(AttackCatalog.ApgdTargets, Assert.IsType<ApgdTargeted>(suite.Attacks[1]).Targets);
        Assert.Equal(AttackCatalog.SquareDefaultQueries, Assert.IsType<Square>(suite.Attacks[2]).Queries);
        Assert.True(AttackCatalog.IsSuite(AttackCatalog.AutoAttack));
        Assert.True(AttackCatalog.IsSuite(AttackCatalog.GateSuite));
        Assert.False(AttackCatalog.IsSuite("apgd-t"));
    }

    [Fact]
    public void DefaultEvaluation_IsKnownAndStartsClean()
    {
        Assert.Equal(AttackCatalog.Clean, AttackCatalog.DefaultEvaluation[0]);
        Assert.All(AttackCatalog.DefaultEvaluation, name => Assert.True(AttackCatalog.IsKnown(name)));
    }
}
