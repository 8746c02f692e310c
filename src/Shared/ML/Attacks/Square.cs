using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace HardPair.ML.Attacks;

/// <summary>
/// Square Attack, L∞ (Andriushchenko et al. 2020): a random search that uses only the model's
/// scores, never its gradients, so gradient masking cannot stop it. From vertical stripes of ±ε
/// it proposes, per query, one square window (side shrinking on the paper's schedule from 80% of
/// the image) set to ±ε per channel, and keeps the proposal where it lowers the margin
/// z_y − max_{j≠y} z_j. A point stops being queried once it is fooled. Seeded: every random
/// choice is drawn from the example's own key (<see cref="ExampleRandom"/>) and the query's
/// number, so a point's search does not depend on which other points share its batch.
/// </summary>
public sealed class Square : IAttack
{
    /// <summary>The share of the image the first windows cover (AutoAttack's L∞ setting).</summary>
    public const double InitialShare = 0.8;

    private readonly long seed;

    public Square(double epsilon, int queries, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epsilon);
        ArgumentOutOfRangeException.ThrowIfLessThan(queries, 1);
        Epsilon = epsilon;
        Queries = queries;
        this.seed = seed;
    }

    /// <summary><c>square</c> for the standard 5 000 queries, <c>squareQ</c> otherwise.</summary>
    public string Name => "square" + (Queries == AttackCatalog.SquareDefaultQueries ? "" : Queries.ToString(CultureInfo.InvariantCulture));

    public double Epsilon { get; }

    /// <summary>Model evaluations per point, the first (the stripes) included.</summary>
    public int Queries { get; }

    int IAttack.Steps => Queries;

    public double StepSize => Epsilon;

    /// <summary>The share of the image a window covers at query <paramref name="query"/> of <paramref name="queries"/> (halving at the paper's milestones, rescaled to 10 000).</summary>
    public static double WindowShare(int query, int queries)
    {
        var i = (int)((double)query / queries * 10_000);
        int[] milestones = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
        var halvings = milestones.Count(m => i > m);
        return InitialShare / Math.Pow(2, halvings);
    }

    public Tensor Perturb(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        using var mode = new EvalModeScope(model);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var (channels, height, width) = (images.shape[1], images.shape[2], images.shape[3]);

        var keys = ExampleRandom.Keys(images, seed);
        var stripes = Stripes(keys, channels, width, images).mul(Epsilon);
        var best = images.add(stripes).clamp(0, 1);
        var margin = Margin(model.forward(best), labels);

        var rows = torch.arange(height, device: images.device).view(1, 1, height, 1);
        var columns = torch.arange(width, device: images.device).view(1, 1, 1, width);
        for (var query = 1; query < Queries; query++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var step = torch.NewDisposeScope();
            var active = margin.gt(0).nonzero().squeeze(1);
            var n = active.shape[0];
            if (n == 0)
            {
                break;
            }

            var side = (int)Math.Round(Math.Sqrt(WindowShare(query, Queries) * height * width));
            side = Math.Clamp(side, 1, (int)height - 1);
            var (topOffsets, leftOffsets, signValues) = Proposals(keys, active, query, channels, height - side + 1, width - side + 1);
            var top = torch.tensor(topOffsets, device: images.device).view(n, 1, 1, 1);
            var left = torch.tensor(leftOffsets, device: images.device).view(n, 1, 1, 1);
            var window = rows.ge(top).logical_and(rows.lt(top.add(side)))
                .logical_and(columns.ge(left)).logical_and(columns.lt(left.add(side)));

            var origin = images.index_select(0, active);
            var current = best.index_select(0, active);
            var signs = torch.tensor(signValues, [n, channels, 1, 1]).to(images.dtype).to(images.device);
            var candidate = torch.where(window, origin.add(signs.mul(Epsilon)).clamp(0, 1), current);

            // A window whose pixels already sit at the proposed corner (or at the clip) would waste
            // the query: propose the opposite signs there instead.
            var unchanged = candidate.sub(current).abs().amax([1, 2, 3]).lt(1e-7);
            candidate = AttackMath.Select(unchanged, torch.where(window, origin.sub(signs.mul(Epsilon)).clamp(0, 1), current), candidate);

            var candidateMargin = Margin(model.forward(candidate), labels.index_select(0, active));
            var improved = candidateMargin.lt(margin.index_select(0, active));
            var which = improved.nonzero().squeeze(1);
            if (which.shape[0] > 0)
            {
                var indices = active.index_select(0, which);
                best.index_copy_(0, indices, candidate.index_select(0, which));
                margin.index_copy_(0, indices, candidateMargin.index_select(0, which));
            }
        }

        return AttackMath.Project(best, images, Epsilon).MoveToOuterDisposeScope();
    }

    /// <summary>z_y − max_{j≠y} z_j: positive while the point is classified correctly.</summary>
    private static Tensor Margin(Tensor logits, Tensor labels) => AttackMath.Margin(logits, labels).neg();

    /// <summary>±1 per example, channel and column: the vertical stripes the search starts from.</summary>
    private static Tensor Stripes(ulong[] keys, long channels, long width, Tensor like)
    {
        var values = new float[keys.Length * channels * width];
        for (var i = 0; i < keys.Length; i++)
        {
            for (var j = 0L; j < channels * width; j++)
            {
                values[(i * channels * width) + j] = (ExampleRandom.Draw(keys[i], (ulong)j) & 1) == 0 ? -1f : 1f;
            }
        }

        return torch.tensor(values, [keys.Length, channels, 1, width]).to(like.dtype).to(like.device);
    }

    /// <summary>For each active example: the window's top and left corner and a sign per channel, from its key and the query's number.</summary>
    private static (long[] Top, long[] Left, float[] Signs) Proposals(ulong[] keys, Tensor active, int query, long channels, long rows, long columns)
    {
        var indices = active.cpu().data<long>().ToArray();
        var top = new long[indices.Length];
        var left = new long[indices.Length];
        var signs = new float[indices.Length * channels];
        var perQuery = (ulong)(2 + channels);
        var first = (ulong)(channels * 1_000_000) + ((ulong)query * perQuery);
        for (var i = 0; i < indices.Length; i++)
        {
            var key = keys[indices[i]];
            top[i] = (long)(ExampleRandom.Draw(key, first) % (ulong)rows);
            left[i] = (long)(ExampleRandom.Draw(key, first + 1) % (ulong)columns);
            for (var c = 0; c < channels; c++)
            {
                signs[(i * channels) + c] = (ExampleRandom.Draw(key, first + 2 + (ulong)c) & 1) == 0 ? -1f : 1f;
            }
        }

        return (top, left, signs);
    }
}
