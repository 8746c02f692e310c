using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Options;

namespace HardPair.TrainerSidecar.Leadership;

/// <summary>
/// Whether this sidecar may train. Without leader election it always may. With it, a
/// <see cref="LeaderElector"/> on a Lease decides: a term starts when the lease is won and ends
/// (its token is cancelled, stopping the current run at the next step, before any publish) when a
/// renewal does not succeed within the renew deadline — which is shorter than the lease, so a new
/// leader can only take over after the old one has stopped.
/// <para>
/// Time: the elector (KubernetesClient's) keeps its own clock — its lease, renew and retry
/// timings run on the system clock and cannot take a <see cref="TimeProvider"/> — so its tests
/// run on short real leases against an in-memory lock and await the term events rather than
/// fake time. Our own wait, the pause after the elector fails, takes the <see cref="TimeProvider"/>.
/// </para>
/// </summary>
public sealed partial class TrainingLeadership : BackgroundService
{
    private readonly LeaderElectionOptions options;
    private readonly ILock? leaseLock;
    private readonly ILogger<TrainingLeadership> logger;
    private readonly TimeProvider time;
    private readonly Lock gate = new();
    private TaskCompletionSource<CancellationToken> term = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? termSource;

    public TrainingLeadership(IOptions<LeaderElectionOptions> options, IServiceProvider services, ILogger<TrainingLeadership> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(services);
        this.options = options.Value;
        this.logger = logger;
        time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        if (this.options.Enabled)
        {
            leaseLock = services.GetRequiredService<ILock>();
        }
        else
        {
            term.SetResult(CancellationToken.None);
        }
    }

    public bool IsLeader
    {
        get
        {
            lock (gate)
            {
                return term.Task.IsCompletedSuccessfully && !term.Task.Result.IsCancellationRequested;
            }
        }
    }

    /// <summary>The identity holding the lease as last observed (this sidecar's own when election is off).</summary>
    public string Leader { get; private set; } = "";

    public bool Enabled => options.Enabled;

    /// <summary>Waits until this sidecar leads; the token is cancelled when the term ends.</summary>
    public Task<CancellationToken> WaitForTermAsync(CancellationToken cancellationToken)
    {
        Task<CancellationToken> current;
        lock (gate)
        {
            current = term.Task;
        }

        return current.WaitAsync(cancellationToken);
    }

    /// <summary>The production lock: a coordination.k8s.io Lease through the in-cluster API.</summary>
    public static ILock CreateLeaseLock(LeaderElectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var client = new Kubernetes(KubernetesClientConfiguration.InClusterConfig());
        return new LeaseLock(client, options.Namespace, options.LeaseName, options.ResolveIdentity());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (leaseLock is null)
        {
            Leader = options.ResolveIdentity();
            return;
        }

        var lease = options.LeaseDurationTime;
        var config = new LeaderElectionConfig(leaseLock)
        {
            LeaseDuration = lease,
            RenewDeadline = lease * 2 / 3,
            RetryPeriod = lease / 5,
        };
        using var elector = new LeaderElector(config);
        elector.OnStartedLeading += StartTerm;
        elector.OnStoppedLeading += EndTerm;
        elector.OnNewLeader += identity =>
        {
            Leader = identity;
            LogNewLeader(logger, identity ?? "nobody", options.LeaseName);
        };
        elector.OnError += ex => LogElectionError(logger, ex.Message);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await elector.RunUntilLeadershipLostAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogElectionError(logger, ex.Message);
                await Task.Delay(config.RetryPeriod, time, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        EndTerm();
    }

    private void StartTerm()
    {
        lock (gate)
        {
            termSource = new CancellationTokenSource();
            if (!term.TrySetResult(termSource.Token))
            {
                term = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
                term.SetResult(termSource.Token);
            }
        }

        LogStartedLeading(logger, options.ResolveIdentity());
    }

    private void EndTerm()
    {
        lock (gate)
        {
            if (termSource is null)
            {
                return;
            }

            termSource.Cancel();
            termSource.Dispose();
            termSource = null;
            term = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        LogStoppedLeading(logger, options.ResolveIdentity());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Identity} now leads training")]
    private static partial void LogStartedLeading(ILogger logger, string identity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Identity} no longer leads training; the current run stops and is left for the next leader")]
    private static partial void LogStoppedLeading(ILogger logger, string identity);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Identity} holds the lease {Lease}")]
    private static partial void LogNewLeader(ILogger logger, string identity, string lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader election: {Reason}")]
    private static partial void LogElectionError(ILogger logger, string reason);
}
