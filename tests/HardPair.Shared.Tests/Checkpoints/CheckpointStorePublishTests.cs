using System.Diagnostics;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Models;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Checkpoints;

[Collection(TorchCollection.Name)]
public sealed class CheckpointStorePublishTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void List_IgnoresStagingAndHiddenFolders()
    {
        var store = new CheckpointStore(temp.Path, TimeProvider.System);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var published = store.Publish(model, TestCheckpoints.Draft());
        Directory.CreateDirectory(temp.Combine(CheckpointStore.StagingFolder, "v-half.1.abc"));
        File.WriteAllText(temp.Combine(CheckpointStore.StagingFolder, "v-half.1.abc", CheckpointFiles.Weights), "half");

        var listed = Assert.Single(store.List(verifyWeights: true));
        Assert.Equal(published.Version, listed.Version);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Combine(CheckpointStore.StagingFolder), published.Version + "*"));
    }

    [Fact]
    public void RemoveAbandonedStaging_RemovesDeadWritersOnly()
    {
        var store = new CheckpointStore(temp.Path, TimeProvider.System);
        var dead = temp.Combine(CheckpointStore.StagingFolder, "v1.2147483646.abc");
        var live = temp.Combine(CheckpointStore.StagingFolder, $"v2.{Environment.ProcessId}.abc");
        Directory.CreateDirectory(dead);
        Directory.CreateDirectory(live);

        Assert.Equal(1, store.RemoveAbandonedStaging());
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(live));
    }

    [Fact]
    public async Task Publish_WriterKilledMidWrite_ReadersNeverSeeAHalfWrittenVersion()
    {
        var storePath = temp.Combine("store");
        var store = new CheckpointStore(storePath, TimeProvider.System);
        var random = new Random(42);
        var killsInsideAPublish = 0;
        var readerFaults = new List<string>();

        var staging = Path.Combine(storePath, CheckpointStore.StagingFolder);
        for (var attempt = 0; attempt < 6; attempt++)
        {
            using var writer = StartWriter(storePath);
            using var stopReader = new CancellationTokenSource();
            var reader = Task.Run(() => ReadContinuously(store, readerFaults, stopReader.Token));

            WaitForLine(writer, line => line.StartsWith("published", StringComparison.Ordinal));
            // Wait until the next publish has begun writing, then kill at a random point of it.
            while (!HasStagedFolders(staging))
            {
                await Task.Yield();
            }

            await Task.Delay(random.Next(0, 40));
            writer.Kill(); // SIGKILL on Linux: no cleanup runs in the writer
            await writer.WaitForExitAsync();
            stopReader.Cancel();
            await reader;

            if (HasStagedFolders(staging))
            {
                killsInsideAPublish++;
            }

            Assert.All(store.List(verifyWeights: true), entry => Assert.True(entry.IsValid, $"{entry.Version}: {entry.Fault}"));
            store.RemoveAbandonedStaging();
            Assert.False(HasStagedFolders(staging));
        }

        Assert.Empty(readerFaults);
        Assert.True(killsInsideAPublish >= 3, $"only {killsInsideAPublish} kill(s) landed inside a publish");
        var latest = store.Latest();
        Assert.NotNull(latest);
        using var loaded = store.Load(latest.Version);
        Assert.Equal(PreActResNet18.ArchitectureName, loaded.Manifest.Architecture);
    }

    private static bool HasStagedFolders(string staging) =>
        Directory.Exists(staging) && Directory.EnumerateDirectories(staging).Any();

    private static void ReadContinuously(CheckpointStore store, List<string> faults, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            foreach (var entry in store.List(verifyWeights: true).Where(e => !e.IsValid))
            {
                lock (faults)
                {
                    faults.Add($"{entry.Version}: {entry.Fault}");
                }
            }
        }
    }

    private static Process StartWriter(string store)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HardPair.CheckpointWriter.dll"));
        start.ArgumentList.Add(store);
        start.ArgumentList.Add("1000");
        return Process.Start(start) ?? throw new InvalidOperationException("could not start the checkpoint writer");
    }

    private static void WaitForLine(Process process, Func<string, bool> match)
    {
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (match(line))
            {
                return;
            }
        }

        throw new InvalidOperationException($"the checkpoint writer exited early: {process.StandardError.ReadToEnd()}");
    }
}
