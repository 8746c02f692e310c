using k8s.LeaderElection;

namespace HardPair.TrainerSidecar.Tests.Leadership;

/// <summary>
/// A Lease as the API server keeps it: one record and a resource version; an update succeeds only
/// from the version its writer last read (optimistic concurrency), as a real Lease update does.
/// </summary>
public sealed class FakeLease
{
    private readonly Lock gate = new();
    private LeaderElectionRecord? record;
    private long version;

    public string? Holder
    {
        get
        {
            lock (gate)
            {
                return record?.HolderIdentity;
            }
        }
    }

    public ILock LockFor(string identity) => new FakeLeaseLock(this, identity);

    private sealed class FakeLeaseLock(FakeLease lease, string identity) : ILock
    {
        private long seen = -1;

        public string Identity => identity;

        public string Describe() => $"fake lease as {identity}";

        public Task<LeaderElectionRecord> GetAsync(CancellationToken cancellationToken = default)
        {
            lock (lease.gate)
            {
                seen = lease.version;
                return Task.FromResult(lease.record is null ? null! : Copy(lease.record));
            }
        }

        public Task<bool> CreateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default)
        {
            lock (lease.gate)
            {
                if (lease.record is not null)
                {
                    return Task.FromResult(false);
                }

                lease.record = Copy(record);
                seen = ++lease.version;
                return Task.FromResult(true);
            }
        }

        public Task<bool> UpdateAsync(LeaderElectionRecord record, CancellationToken cancellationToken = default)
        {
            lock (lease.gate)
            {
                if (lease.version != seen)
                {
                    return Task.FromResult(false);
                }

                lease.record = Copy(record);
                seen = ++lease.version;
                return Task.FromResult(true);
            }
        }

        private static LeaderElectionRecord Copy(LeaderElectionRecord r) => new()
        {
            HolderIdentity = r.HolderIdentity,
            LeaseDurationSeconds = r.LeaseDurationSeconds,
            AcquireTime = r.AcquireTime,
            RenewTime = r.RenewTime,
            LeaderTransitions = r.LeaderTransitions,
        };
    }
}
