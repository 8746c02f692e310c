using System.Diagnostics;
using HardPair.ML.Checkpoints;
using HardPair.ML.Models;
using HardPair.Storage.Checkpoints;
using HardPair.Testing;

namespace HardPair.Shared.Tests.Storage.Checkpoints;

[Collection(TorchCollection.Name)]
[Trait(TestKind.Trait, TestKind.Process)]
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

    [Theory]
    [InlineData(PublishStep.StagingCreated)]
    [InlineData(PublishStep.WeightsWritten)]
    [InlineData(PublishStep.ManifestWritten)]
    [InlineData(PublishStep.SignatureWritten)]
    [InlineData(PublishStep.StagingFlushed)]
    [InlineData(PublishStep.Renamed)]
    [InlineData(PublishStep.StoreFlushed)]
    public async Task Publish_KilledAfterEachStep_LeavesNothingOrAWholeVersion_AndTheStoreGoesOn(PublishStep step)
    {
        const string key = "signing-key-for-the-crash-tests-0123456789";
        var storePath = temp.Combine("store");
        var store = new CheckpointStore(storePath, TimeProvider.System, CheckpointSigning.WithKey(key));
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var good = store.Publish(model, TestCheckpoints.Draft());

        using (var writer = StartWriter(storePath, "1", SmallCnn.ArchitectureName, "--stop-after", step.ToString(), "--signing-key", key))
        {
            WaitForLine(writer, line => line == $"stopped after {step}");
            writer.Kill(); // SIGKILL exactly after the step: no cleanup runs
            await writer.WaitForExitAsync(TestContext.Current);
        }

        // Before the rename the new version does not exist for readers; after it, it is whole.
        var entries = store.List(verifyWeights: true);
        Assert.All(entries, entry => Assert.True(entry.IsValid, $"{entry.Version}: {entry.Fault}"));
        var landed = step >= PublishStep.Renamed;
        Assert.Equal(landed ? 2 : 1, entries.Count);
        Assert.Equal(landed, store.Latest()!.Version != good.Version);
        Assert.Equal(landed ? 0 : 1, store.RemoveAbandonedStaging());
        Assert.False(HasStagedFolders(Path.Combine(storePath, CheckpointStore.StagingFolder)));

        var next = store.Publish(model, TestCheckpoints.Draft());
        Assert.Equal(next.Version, store.Latest()!.Version);
    }

    [Theory]
    [InlineData(PublishStep.Renamed)]
    [InlineData(PublishStep.StoreFlushed)]
    public void Publish_FailingAfterTheRename_HasLanded_AndIsReportedSo(PublishStep step)
    {
        var store = new CheckpointStore(temp.Combine("store"), TimeProvider.System);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        store.AfterStep = reached =>
        {
            if (reached == step)
            {
                throw new IOException("No space left on device");
            }
        };

        // The version is in place and whole once renamed: failing the publish now would have the
        // trainer record a failed run for a checkpoint that is being served.
        var published = store.Publish(model, TestCheckpoints.Draft());

        Assert.Equal(published.Version, store.Latest()!.Version);
        Assert.True(Assert.Single(store.List(verifyWeights: true)).IsValid);
    }

    [Theory]
    [InlineData(PublishStep.StagingCreated)]
    [InlineData(PublishStep.WeightsWritten)]
    [InlineData(PublishStep.ManifestWritten)]
    [InlineData(PublishStep.StagingFlushed)]
    public void Publish_DiskFullMidway_FailsWithTheReason_LeavesTheStoreAsItWas(PublishStep step)
    {
        var store = new CheckpointStore(temp.Combine("store"), TimeProvider.System);
        using var model = ModelRegistry.Create(SmallCnn.ArchitectureName, 10, ClassifierHeadKind.Cosine);
        var good = store.Publish(model, TestCheckpoints.Draft());
        // What the file system says when a write or flush finds the device full (ENOSPC).
        store.AfterStep = reached =>
        {
            if (reached == step)
            {
                throw new IOException("No space left on device");
            }
        };

        var error = Assert.Throws<CheckpointException>(() => store.Publish(model, TestCheckpoints.Draft()));
        store.AfterStep = null;

        Assert.Contains("No space left on device", error.Message, StringComparison.Ordinal);
        Assert.Equal([good.Version], store.List(verifyWeights: true).Select(e => e.Version));
        Assert.False(HasStagedFolders(temp.Combine("store", CheckpointStore.StagingFolder)));
        var next = store.Publish(model, TestCheckpoints.Draft());
        Assert.Equal(next.Version, store.Latest()!.Version);
    }

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

    private static Process StartWriter(string store, params string[] extra)
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
        foreach (var arg in extra.Length > 0 ? extra : ["1000"])
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start the checkpoint writer");
    }

    /// <summary>Reads the writer's lines until one matches; a writer that hangs or dies fails the test within a minute.</summary>
    private static void WaitForLine(Process process, Func<string, bool> match)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (true)
        {
            var read = process.StandardOutput.ReadLineAsync();
            if (!read.Wait(deadline - DateTime.UtcNow))
            {
                process.Kill();
                throw new TimeoutException("the checkpoint writer printed nothing expected within a minute");
            }

            if (read.Result is not { } line)
            {
                throw new InvalidOperationException($"the checkpoint writer exited early: {process.StandardError.ReadToEnd()}");
            }

            if (match(line))
            {
                return;
            }
        }
    }
}
