using System.Runtime.InteropServices;

namespace HardPair.TrainerSidecar.Offline;

/// <summary>Ctrl-C or SIGTERM asks a running command to stop cleanly (nothing half-published) instead of killing it.</summary>
internal static class ConsoleCancellation
{
    private static readonly CancellationTokenSource Source = new();
    private static readonly List<PosixSignalRegistration> Registrations = [];

    public static CancellationToken Token()
    {
        lock (Registrations)
        {
            if (Registrations.Count == 0)
            {
                foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
                {
                    Registrations.Add(PosixSignalRegistration.Create(signal, context =>
                    {
                        context.Cancel = true;
                        Source.Cancel();
                    }));
                }
            }
        }

        return Source.Token;
    }
}
