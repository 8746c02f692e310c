using HardPair.Storage.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HardPair.ML.Models;

/// <summary>
/// Pre-activation ResNet-18 (He et al. 2016) for 3×32×32 inputs, the network of SPAT's
/// reference code, with a selectable classifier head. Layer names follow the reference
/// (conv1, layer1..layer4, bn, head) and are part of the checkpoint format.
/// </summary>
public sealed class PreActResNet18 : nn.Module<Tensor, Tensor>
{
    public const string ArchitectureName = NetworkCatalog.PreActResNet18;

    private readonly Conv2d conv1;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Sequential layer4;
    private readonly BatchNorm2d bn;
    private readonly nn.Module<Tensor, Tensor> head;

    public PreActResNet18(int channels, int classes, ClassifierHeadKind headKind)
        : base(nameof(PreActResNet18))
    {
        conv1 = nn.Conv2d(channels, 64, kernel_size: 3, padding: 1, bias: false);
        layer1 = Stage(64, 64, stride: 1);
        layer2 = Stage(64, 128, stride: 2);
        layer3 = Stage(128, 256, stride: 2);
        layer4 = Stage(256, 512, stride: 2);
        bn = nn.BatchNorm2d(512);
        head = headKind == ClassifierHeadKind.Cosine
            ? new CosineClassifierHead(512, classes)
            : nn.Linear(512, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var x = conv1.forward(input);
        x = layer4.forward(layer3.forward(layer2.forward(layer1.forward(x))));
        x = nn.functional.relu(bn.forward(x));
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return head.forward(x).MoveToOuterDisposeScope();
    }

    private static Sequential Stage(int inputs, int outputs, int stride) =>
        nn.Sequential(("0", new PreActBlock(inputs, outputs, stride)), ("1", new PreActBlock(outputs, outputs, 1)));

    private sealed class PreActBlock : nn.Module<Tensor, Tensor>
    {
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv2;
        private readonly Conv2d? shortcut;

        public PreActBlock(int inputs, int outputs, int stride)
            : base(nameof(PreActBlock))
        {
            bn1 = nn.BatchNorm2d(inputs);
            conv1 = nn.Conv2d(inputs, outputs, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(outputs);
            conv2 = nn.Conv2d(outputs, outputs, kernel_size: 3, stride: 1, padding: 1, bias: false);
            if (stride != 1 || inputs != outputs)
            {
                shortcut = nn.Conv2d(inputs, outputs, kernel_size: 1, stride: stride, bias: false);
            }

            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = torch.NewDisposeScope();
            var activated = nn.functional.relu(bn1.forward(input));
            var residual = shortcut is null ? input : shortcut.forward(activated);
            var x = conv1.forward(activated);
            x = conv2.forward(nn.functional.relu(bn2.forward(x)));
            return x.add(residual).MoveToOuterDisposeScope();
        }
    }
}
