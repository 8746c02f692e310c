namespace HardPair.ML.Evaluation;

/// <summary>
/// docs/SPAT.md's hard-pair statistics from an adversarial confusion: A[i, j] = share of class-i
/// points predicted j (j ≠ i); h(i, j) = (A[i, j] + A[j, i]) / 2; a class's hard partner is
/// argmax_j h(i, j); the hard-pair share is the share of adversarial errors that land on the
/// true class's hard partner.
/// </summary>
public sealed record HardPairStatistics(double[][] AdversarialConfusion, double[][] PairHardness, int[] HardPartners, double HardPairShare)
{
    /// <summary>Partners from a stored pair-hardness matrix (a manifest's), without the confusion behind it.</summary>
    public static HardPairStatistics FromHardness(double[][] hardness)
    {
        ArgumentNullException.ThrowIfNull(hardness);
        return new HardPairStatistics([], hardness, Partners(hardness), 0);
    }

    /// <summary>argmax_j h(i, j), j ≠ i, for every class i.</summary>
    public static int[] Partners(double[][] hardness)
    {
        ArgumentNullException.ThrowIfNull(hardness);
        var classes = hardness.Length;
        var partners = new int[classes];
        for (var i = 0; i < classes; i++)
        {
            var best = i == 0 ? 1 : 0;
            for (var j = 0; j < classes; j++)
            {
                if (j != i && hardness[i][j] > hardness[i][best])
                {
                    best = j;
                }
            }

            partners[i] = best;
        }

        return partners;
    }

    /// <summary>
    /// The share of the errors in <paramref name="confusion"/> that land on the true class's
    /// partner in <paramref name="partners"/> — a fixed map (one model's), so that several models
    /// are scored on the same pairs.
    /// </summary>
    public static double ShareOn(long[][] confusion, int[] partners)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        ArgumentNullException.ThrowIfNull(partners);
        if (partners.Length != confusion.Length)
        {
            throw new ArgumentException($"{partners.Length} partners for {confusion.Length} classes", nameof(partners));
        }

        long errors = 0, onPartner = 0;
        for (var i = 0; i < confusion.Length; i++)
        {
            for (var j = 0; j < confusion.Length; j++)
            {
                if (i != j)
                {
                    errors += confusion[i][j];
                }
            }

            onPartner += confusion[i][partners[i]];
        }

        return errors == 0 ? 0 : (double)onPartner / errors;
    }

    public static HardPairStatistics From(long[][] confusion)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        var shares = Shares([.. confusion.Select(row => row.Select(count => (double)count).ToArray())]);
        var hardness = Hardness(shares);
        var partners = Partners(hardness);
        return new HardPairStatistics(shares, hardness, partners, ShareOn(confusion, partners));
    }

    /// <summary>A[i, j]: the share of class i's points counted as j (j ≠ i; 0 on the diagonal and for an empty row).</summary>
    public static double[][] Shares(double[][] counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        return [.. counts.Select((row, i) =>
        {
            var total = row.Sum();
            return row.Select((count, j) => i == j || total == 0 ? 0 : count / total).ToArray();
        })];
    }

    /// <summary>h(i, j) = (A[i, j] + A[j, i]) / 2.</summary>
    public static double[][] Hardness(double[][] shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        return [.. shares.Select((row, i) => row.Select((_, j) => (shares[i][j] + shares[j][i]) / 2).ToArray())];
    }
}
