using HardPair.Storage.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HardPair.ML.Models;

/// <summary>
/// conv32 → pool → conv64 → pool → fc128 → head, for 1×28×28 inputs. Small enough to train
/// adversarially on two CPU cores (docs/SPAT.md's prototype reached ~74% PGD-20 in 17 minutes).
/// Layer names (conv1, conv2, fc1, head) are part of the checkpoint format.
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    public const string ArchitectureName = NetworkCatalog.SmallCnn;
    private const int Hidden = 128;

    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Linear fc1;
    private readonly nn.Module<Tensor, Tensor> head;

    public SmallCnn(int channels, int height, int width, int classes, ClassifierHeadKind headKind)
        : base(nameof(SmallCnn))
    {
        conv1 = nn.Conv2d(channels, 32, kernel_size: 3, padding: 1);
        conv2 = nn.Conv2d(32, 64, kernel_size: 3, padding: 1);
        fc1 = nn.Linear(64 * (height / 4) * (width / 4), Hidden);
        head = headKind == ClassifierHeadKind.Cosine
            ? new CosineClassifierHead(Hidden, classes)
            : nn.Linear(Hidden, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(input)), 2);
        x = nn.functional.max_pool2d(nn.functional.relu(conv2.forward(x)), 2);
        x = nn.functional.relu(fc1.forward(x.flatten(1)));
        return head.forward(x).MoveToOuterDisposeScope();
    }
}
