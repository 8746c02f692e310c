using HardPair.Storage.Checkpoints;

namespace HardPair.InferenceService.Models;

public enum ModelState
{
    Available,
    Serving,
    Refused,
}

/// <summary>A version the service knows of: its manifest (when readable), state and why it was refused.</summary>
/// <summary>How an <see cref="ModelCatalog.ActivateAsync"/> ended.</summary>
public enum ActivationOutcome
{
    /// <summary>The version serves (and is pinned or unpinned as asked).</summary>
    Serving,

    /// <summary>The store holds no such version.</summary>
    NotFound,

    /// <summary>The version failed verification or loading; the previous one still serves.</summary>
    Refused,

    /// <summary>The store could not record or remove the pin.</summary>
    StoreFailed,
}

/// <summary>The outcome of an activation and what to tell the operator.</summary>
public sealed record Activation(ActivationOutcome Outcome, string Detail);

public sealed record KnownModel(string Version, CheckpointManifest? Manifest, ModelState State, string? Reason, DateTimeOffset? RefusedAt);

/// <summary>
/// Decides what serves. It follows the store's newest valid checkpoint unless an operator pinned
/// a version. The pin lives in the store (<see cref="CheckpointStore.PinFile"/>), read on every
/// refresh: it survives restarts and holds for every replica serving from the store. Every
/// candidate is verified before the swap; a refused one is remembered with its reason (and not
/// retried) while the current model keeps serving. Safe to use from any thread: refreshes and
/// activations take turns; <see cref="List"/> reads a snapshot of the refusals.
/// </summary>
public sealed partial class ModelCatalog(CheckpointStore store, ModelHost host, CandidateVerifier verifier, InferenceMetrics metrics, TimeProvider time, ILogger<ModelCatalog> logger)
{
    private readonly SemaphoreSlim gate = new(1, 1);

    // Written under the gate, read by List from any thread: guarded by a lock of its own.
    private readonly Lock refusedGate = new();
    private readonly Dictionary<string, (string Reason, DateTimeOffset At)> refused = new(StringComparer.Ordinal);
    private string? pinFault;
    private volatile string? pinnedVersion;

    /// <summary>The pinned version as of the last refresh or activation; null when following the newest.</summary>
    public string? PinnedVersion
    {
        get => pinnedVersion;
        private set => pinnedVersion = value;
    }

    /// <summary>
    /// Looks at the store and swaps to the pinned version, or with no pin to the newest valid,
    /// unrefused checkpoint, if it is not already serving. A pinned version that cannot be served
    /// (gone, broken, refused) leaves the current model serving; with nothing serving yet, the
    /// newest serves meanwhile — a pin must not keep the service from starting. Returns the
    /// store's listing when it took one (at most one scan), null when the pin made it needless.
    /// </summary>
    public async Task<IReadOnlyList<StoredCheckpoint>?> RefreshAsync(CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            StorePin? pin;
            try
            {
                pin = store.ReadPin();
                pinFault = null;
            }
            catch (CheckpointException ex)
            {
                // An unreadable pin holds what serves rather than silently unpinning.
                if (ex.Fault != pinFault)
                {
                    LogPinUnreadable(logger, ex.Fault);
                }

                pinFault = ex.Fault;
                if (host.Current is not null)
                {
                    return null;
                }

                pin = null;
            }

            PinnedVersion = pin?.Version;
            if (PinnedVersion is not null && host.Current?.Version == PinnedVersion)
            {
                return null;
            }

            var entries = Scan();
            var candidates = PinnedVersion is { } pinned
                ? entries.Where(e => e.Version == pinned)
                : entries.Reverse();
            if (PinnedVersion is not null && host.Current is null)
            {
                // Nothing serves yet: the newest stands in if the pinned version cannot.
                candidates = candidates.Concat(entries.Reverse().Where(e => e.Version != PinnedVersion));
            }

            foreach (var entry in candidates)
            {
                if (host.Current?.Version == entry.Version)
                {
                    break;
                }

                // An unreadable manifest is looked at again on every refresh (a copy may still be
                // landing on a network volume); a candidate that failed verification is not retried
                // until an operator activates it explicitly.
                if (!entry.IsValid || RefusalOf(entry.Version) is not null)
                {
                    continue;
                }

                if (TryActivate(entry, explicitly: false))
                {
                    break;
                }
            }

            return entries;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Verifies and serves <paramref name="version"/>; with <paramref name="pin"/> it stays until unpinned. Empty version: unpin and follow the newest.</summary>
    public async Task<Activation> ActivateAsync(string version, bool pin, CancellationToken cancellationToken)
    {
        if (version.Length == 0)
        {
            try
            {
                store.ClearPin();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return new(ActivationOutcome.StoreFailed, $"the pin could not be removed from the store: {ex.Message}");
            }

            await RefreshAsync(cancellationToken);
            return new(ActivationOutcome.Serving, $"following the newest checkpoint; serving {host.Current?.Version ?? "nothing"}");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var entry = Scan().FirstOrDefault(e => e.Version == version);
            if (entry is null)
            {
                return new(ActivationOutcome.NotFound, $"no checkpoint '{version}' in the store");
            }

            if (!entry.IsValid)
            {
                return new(ActivationOutcome.Refused, $"refused: {entry.Fault}");
            }

            // An explicit activation retries a version refused before (the operator may have
            // fixed it); its refusal stays listed until the retry succeeds.
            if (host.Current?.Version != version && !TryActivate(entry, explicitly: true))
            {
                return new(ActivationOutcome.Refused, $"refused: {RefusalOf(version)?.Reason}");
            }

            // Recorded in the store after the swap: a pin is only ever to a version that served.
            try
            {
                if (pin)
                {
                    store.WritePin(version);
                }
                else
                {
                    store.ClearPin();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CheckpointException)
            {
                return new(ActivationOutcome.StoreFailed, $"serving {version}, but the pin could not be {(pin ? "recorded" : "removed")} in the store ({ex.Message}); the next refresh may swap again");
            }

            PinnedVersion = pin ? version : null;
            return new(ActivationOutcome.Serving, pin ? $"serving {version}, pinned" : $"serving {version}");
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Every version in the store with its state, newest first.</summary>
    public IReadOnlyList<KnownModel> List() => Describe(Scan());

    /// <summary>The versions of a listing already taken (<see cref="RefreshAsync"/>'s), with their states, newest first.</summary>
    public IReadOnlyList<KnownModel> Describe(IReadOnlyList<StoredCheckpoint> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var serving = host.Current?.Version;
        var pinned = PinnedVersion;
        Dictionary<string, (string Reason, DateTimeOffset At)> refusals;
        lock (refusedGate)
        {
            refusals = new Dictionary<string, (string Reason, DateTimeOffset At)>(refused, StringComparer.Ordinal);
        }

        return [.. entries.Reverse().Select(e =>
            e.Version == serving ? new KnownModel(e.Version, e.Manifest, ModelState.Serving, pinned == e.Version ? "pinned" : null, null)
            : refusals.TryGetValue(e.Version, out var r) ? new KnownModel(e.Version, e.Manifest, ModelState.Refused, r.Reason, r.At)
            : !e.IsValid ? new KnownModel(e.Version, null, ModelState.Refused, e.Fault, null)
            : new KnownModel(e.Version, e.Manifest, ModelState.Available, null, null))];
    }

    private IReadOnlyList<StoredCheckpoint> Scan()
    {
        metrics.StoreScanned();
        return store.List();
    }

    private (string Reason, DateTimeOffset At)? RefusalOf(string version)
    {
        lock (refusedGate)
        {
            return refused.TryGetValue(version, out var refusal) ? refusal : null;
        }
    }

    private bool TryActivate(StoredCheckpoint entry, bool explicitly)
    {
        ServingModel model;
        try
        {
            model = verifier.Load(entry.Folder, entry.Version);
        }
        catch (CheckpointException ex)
        {
            Refuse(entry.Version, ex.Fault, explicitly);
            return false;
        }

        lock (refusedGate)
        {
            refused.Remove(entry.Version);
        }

        var previous = host.Current?.Version;
        host.Swap(model);
        metrics.Swapped(model.Version);
        LogSwapped(logger, previous ?? "nothing", model.Version);
        return true;
    }

    /// <summary>Records the refusal (a retry's replaces the last); logged the first time, and on every explicit retry.</summary>
    private void Refuse(string version, string reason, bool explicitly)
    {
        bool first;
        lock (refusedGate)
        {
            first = !refused.ContainsKey(version);
            refused[version] = (reason, time.GetUtcNow());
        }

        if (first || explicitly)
        {
            metrics.CandidateRefused();
            LogRefused(logger, version, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The store's pin is unreadable ({Fault}): what serves keeps serving")]
    private static partial void LogPinUnreadable(ILogger logger, string fault);

    [LoggerMessage(Level = LogLevel.Information, Message = "Swapped from {Previous} to {Version}")]
    private static partial void LogSwapped(ILogger logger, string previous, string version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checkpoint {Version} refused: {Reason}; serving goes on unchanged")]
    private static partial void LogRefused(ILogger logger, string version, string reason);
}
