namespace HardPair.Storage.Checkpoints;

/// <summary>
/// An operator's pin, kept in the store (<see cref="CheckpointStore.PinFile"/>) so that it outlives
/// restarts and holds for every replica serving from the store, and for the trainer's start point.
/// </summary>
public sealed record StorePin(string Version, DateTimeOffset PinnedAt);
