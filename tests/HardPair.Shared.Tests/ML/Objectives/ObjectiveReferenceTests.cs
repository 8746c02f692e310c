using System.Text.Json;
using HardPair.ML.Models;
using HardPair.ML.Objectives;
using HardPair.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.Shared.Tests.ML.Objectives;

/// <summary>
/// Loss values and input gradients against PyTorch on fixed small tensors, through the project's
/// own cosine head (tests/reference/objectives_reference.py, float64).
/// </summary>
[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Unit)]
public sealed class ObjectiveReferenceTests
{
    private const double Tolerance = 1e-9;
    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ML", "Objectives", "objectives_reference.json"))).RootElement;

    private static double S => Reference.GetProperty("s").GetDouble();

    private static double M => Reference.GetProperty("m").GetDouble();

    private static double N => Reference.GetProperty("n").GetDouble();

    private static double Beta => Reference.GetProperty("beta").GetDouble();

    public static TheoryData<string> Cases() => ["spat_natural", "spat_robust", "spat_total", "trades_natural", "trades_robust", "trades_total", "pgd_at", "hardpair_natural", "hardpair_natural_detached", "hardpair_natural_clamped", "hardpair_total", "hardpair_partner_margin"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_MatchesPyTorchInValueAndInputGradient(string name)
    {
        using var scope = torch.NewDisposeScope();
        using var head = new CosineClassifierHead(Reference.GetProperty("features").GetInt32(), Reference.GetProperty("classes").GetInt32());
        head.to(ScalarType.Float64);
        using (torch.no_grad())
        {
            head.get_parameter("weight")!.copy_(Matrix("weight"));
            head.get_parameter("bias")!.copy_(Vector("bias"));
        }

        var x = Matrix("x").requires_grad_(true);
        var xAdv = Matrix("x_adv").requires_grad_(true);
        var labels = torch.tensor(Reference.GetProperty("labels").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        var z = head.forward(x);
        var zAdv = head.forward(xAdv);

        var loss = name switch
        {
            "spat_natural" => Losses.SelfPacedCrossEntropy(z, labels, S, M),
            "spat_robust" => Losses.HardPairConsistency(z, zAdv, S, N),
            "spat_total" => Losses.SelfPacedCrossEntropy(z, labels, S, M).add(Losses.HardPairConsistency(z, zAdv, S, N).mul(Beta)),
            "trades_natural" => Losses.ScaledCrossEntropy(z, labels, S),
            "trades_robust" => Losses.TradesKl(z, zAdv, S),
            "trades_total" => Losses.ScaledCrossEntropy(z, labels, S).add(Losses.TradesKl(z, zAdv, S).mul(Beta)),
            "pgd_at" => Losses.ScaledCrossEntropy(zAdv, labels, S),
            "hardpair_natural" => Losses.SelfPacedCrossEntropy(zAdv, labels, S, M, detachWeights: true, clampWeights: true),
            "hardpair_natural_detached" => Losses.SelfPacedCrossEntropy(zAdv, labels, S, M, detachWeights: true, clampWeights: false),
            "hardpair_natural_clamped" => Losses.SelfPacedCrossEntropy(zAdv, labels, S, M, detachWeights: false, clampWeights: true),
            "hardpair_total" => Losses.SelfPacedCrossEntropy(zAdv, labels, S, M, detachWeights: true, clampWeights: true).add(Losses.HardPairConsistency(z, zAdv, S, N).mul(1.0)),
            "hardpair_partner_margin" => Losses.SelfPacedCrossEntropy(
                Losses.WithPartnerMargin(zAdv, labels, torch.tensor(Reference.GetProperty("partners").EnumerateArray().Select(e => e.GetInt64()).ToArray()), Reference.GetProperty("partner_margin").GetDouble()),
                labels, S, M, detachWeights: true, clampWeights: true),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        var expected = Reference.GetProperty("cases").GetProperty(name);
        Assert.Equal(expected.GetProperty("loss").GetDouble(), loss.item<double>(), Tolerance);

        var gradients = torch.autograd.grad([loss], [x, xAdv], allow_unused: true);
        AssertGradient(expected.GetProperty("grad_x"), gradients[0]);
        AssertGradient(expected.GetProperty("grad_x_adv"), gradients[1]);
    }

    [Fact]
    public void Reference_CleanLogits_MatchTheCosineHead()
    {
        using var scope = torch.NewDisposeScope();
        using var head = new CosineClassifierHead(6, 5);
        head.to(ScalarType.Float64);
        using (torch.no_grad())
        {
            head.get_parameter("weight")!.copy_(Matrix("weight"));
            head.get_parameter("bias")!.copy_(Vector("bias"));
        }

        Assert.True(head.forward(Matrix("x")).allclose(Matrix("clean_logits"), rtol: 0, atol: Tolerance));
    }

    private static void AssertGradient(JsonElement expected, Tensor? actual)
    {
        if (expected.ValueKind == JsonValueKind.Null)
        {
            Assert.True(actual is null || actual.IsInvalid || actual.abs().max().item<double>() == 0, "PyTorch has no gradient here");
            return;
        }

        Assert.NotNull(actual);
        var reference = ToTensor(expected);
        var difference = actual.sub(reference).abs().max().item<double>();
        Assert.True(difference < Tolerance, $"gradient differs by {difference}");
    }

    private static Tensor Matrix(string key) => ToTensor(Reference.GetProperty(key));

    private static Tensor Vector(string key) => torch.tensor(Reference.GetProperty(key).EnumerateArray().Select(e => e.GetDouble()).ToArray());

    private static Tensor ToTensor(JsonElement rows)
    {
        var values = rows.EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();
        return torch.tensor(values.SelectMany(r => r).ToArray(), [values.Length, values[0].Length]);
    }
}
