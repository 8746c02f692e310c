using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.Bench.Serving;

/// <summary>
/// Soak (issue 9.4): the inference service and a sidecar as real processes; for N minutes, mixed
/// load (single classifications as raw bytes and floats; batches; streams; robustness
/// probes; admin status calls forwarded to the sidecar), a swap every 30 s, and one sidecar
/// restart half-way. Every classification must succeed (zero lost); resident memory is sampled
/// every 30 s and must stay flat.
/// </summary>
public static class SoakBenchmark
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(string root, string output, TimeSpan duration)
    {
        var work = Directory.CreateTempSubdirectory("hardpair-soak-");
        var store = Path.Combine(work.FullName, "store");
        var versions = HotSwapBenchmark.SeedTwoVersions(Path.Combine(root, "models", "bootstrap"), store);
        var test = DatasetCatalog.Load(new DataOptions(), DatasetSplit.Test).Take(512);
        var sidecarAddress = new Uri($"http://127.0.0.1:{ServingBenchmark.FreePort()}");
        try
        {
            await using var service = await InferenceProcess.StartAsync(root, store, batching: true, [
                "--Sidecar:Address", sidecarAddress.ToString(), "--Sidecar:Token", InferenceProcess.AdminToken,
                "--Inference:MaxConcurrentProbes", "2",
            ]);
            var sidecar = await SidecarProcess.StartAsync(root, store, Path.Combine(work.FullName, "trainer"), sidecarAddress, service.Address);
            var client = new Classifier.ClassifierClient(service.Channel);
            var admin = service.Admin;
            var counts = new Counts();
            var lost = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource(duration);
            var clock = Stopwatch.StartNew();

            async Task Loop(Func<int, Task> call, TimeSpan pause)
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        await call(i);
                    }
                    catch (RpcException ex)
                    {
                        lost.Enqueue($"{clock.Elapsed:mm\\:ss} {ex.StatusCode} {ex.Status.Detail}");
                    }

                    if (pause > TimeSpan.Zero)
                    {
                        await Task.Delay(pause);
                    }
                }
            }

            var load = new List<Task>();
            for (var worker = 0; worker < 12; worker++)
            {
                var w = worker;
                load.Add(Task.Run(() => Loop(async i =>
                {
                    var index = (w * 997 + i) % test.Count;
                    await client.ClassifyAsync(new ClassifyRequest { Image = Image(test, index, (w + i) % 3), TopK = 3 });
                    Interlocked.Increment(ref counts.Single);
                }, TimeSpan.Zero)));
            }

            for (var worker = 0; worker < 2; worker++)
            {
                load.Add(Task.Run(() => Loop(async i =>
                {
                    var batch = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, 16).Select(k => new ClassifyRequest { Image = Image(test, (i * 16 + k) % test.Count, 0) }) } };
                    var answers = await client.ClassifyBatchAsync(batch);
                    Interlocked.Add(ref counts.Batched, answers.Responses.Count);
                }, TimeSpan.Zero)));
            }

            load.Add(Task.Run(() => Loop(async i =>
            {
                using var call = client.ClassifyStream();
                var read = Task.Run(async () =>
                {
                    while (await call.ResponseStream.MoveNext(CancellationToken.None))
                    {
                        Interlocked.Increment(ref counts.Streamed);
                    }
                });
                for (var k = 0; k < 20; k++)
                {
                    await call.RequestStream.WriteAsync(new ClassifyRequest { Image = Image(test, (i * 20 + k) % test.Count, 0), RequestId = $"s{k}" });
                }

                await call.RequestStream.CompleteAsync();
                await read;
            }, TimeSpan.Zero)));
            load.Add(Task.Run(() => Loop(async i =>
            {
                await client.ClassifyAsync(new ClassifyRequest { Image = Image(test, i % test.Count, 0), RobustnessProbe = true });
                Interlocked.Increment(ref counts.Probed);
            }, TimeSpan.FromMilliseconds(500))));

            // Admin calls forwarded to the sidecar: refused (UNAVAILABLE) while it restarts, which
            // is the documented answer, not a lost classification; counted apart.
            load.Add(Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await admin.GetTrainingStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
                        Interlocked.Increment(ref counts.AdminOk);
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
                    {
                        Interlocked.Increment(ref counts.AdminUnavailable);
                    }

                    await Task.Delay(1000);
                }
            }));

            var samples = new List<RssSample>();
            var swaps = 0;
            var restarted = false;
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(30), CancellationToken.None);
                samples.Add(new RssSample(clock.Elapsed.TotalMinutes, service.ResidentBytes() / 1048576.0));
                if (stop.IsCancellationRequested)
                {
                    break;
                }

                await admin.ActivateModelAsync(new ActivateModelRequest { Version = versions[++swaps % 2], Pin = true });
                if (!restarted && clock.Elapsed > duration / 2)
                {
                    await sidecar.StopAsync();
                    await sidecar.DisposeAsync();
                    await Task.Delay(TimeSpan.FromSeconds(5));
                    sidecar = await SidecarProcess.StartAsync(root, store, Path.Combine(work.FullName, "trainer"), sidecarAddress, service.Address);
                    restarted = true;
                    Console.Error.WriteLine($"{clock.Elapsed:mm\\:ss} sidecar restarted");
                }

                Console.Error.WriteLine(string.Create(C, $"{clock.Elapsed:mm\\:ss} rss {samples[^1].Mib:0.0} MiB, {counts.Single + counts.Batched + counts.Streamed + counts.Probed} images, {lost.Count} lost, {swaps} swaps"));
            }

            await Task.WhenAll(load);
            await sidecar.DisposeAsync();

            // Flatness: the slope of a least-squares line through the samples after the first minute.
            var steady = samples.Where(s => s.Minutes >= 1).ToArray();
            var slope = Slope(steady);
            var images = counts.Single + counts.Batched + counts.Streamed + counts.Probed;
            Console.WriteLine(string.Create(C, $"soak: {duration.TotalMinutes:0} min, {swaps} swaps, sidecar restarted: {restarted}"));
            Console.WriteLine("| images classified | single | batched | streamed | probed | lost | admin ok / unavailable | RSS first → last (max) | slope after 1 min |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
            Console.WriteLine(string.Create(C, $"| {images} | {counts.Single} | {counts.Batched} | {counts.Streamed} | {counts.Probed} | {lost.Count} | {counts.AdminOk} / {counts.AdminUnavailable} | {steady[0].Mib:0.0} → {steady[^1].Mib:0.0} ({steady.Max(s => s.Mib):0.0}) MiB | {slope:+0.00;-0.00} MiB/min |"));
            foreach (var failure in lost.Take(10))
            {
                Console.WriteLine($"lost: {failure}");
            }

            var json = JsonSerializer.Serialize(
                new { date = DateTime.UtcNow, minutes = duration.TotalMinutes, swaps, restarted, images, counts.Single, counts.Batched, counts.Streamed, counts.Probed, lost = lost.ToArray(), counts.AdminOk, counts.AdminUnavailable, rss = samples, slopeMibPerMinute = slope },
                new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
            await File.WriteAllTextAsync(Path.Combine(output, "soak.json"), json);
            Console.WriteLine($"\nwritten {Path.Combine(output, "soak.json")}");
            return lost.IsEmpty ? 0 : 1;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static Image Image(ImageDataset test, int index, int kind) => kind switch
    {
        1 => Floats(test, index),
        _ => new Image { Uint8Pixels = ByteString.CopyFrom(test.Image(index)), Shape = { 1, 28, 28 } },
    };

    private static Image Floats(ImageDataset test, int index)
    {
        var image = new Image { FloatPixels = new FloatPixels(), Shape = { 28, 28 } };
        foreach (var b in test.Image(index))
        {
            image.FloatPixels.Values.Add(b / 255f);
        }

        return image;
    }

    private static double Slope(IReadOnlyList<RssSample> points)
    {
        if (points.Count < 2)
        {
            return 0;
        }

        var mx = points.Average(p => p.Minutes);
        var my = points.Average(p => p.Mib);
        var den = points.Sum(p => (p.Minutes - mx) * (p.Minutes - mx));
        return den == 0 ? 0 : points.Sum(p => (p.Minutes - mx) * (p.Mib - my)) / den;
    }

    /// <summary>One resident-memory sample (a record: value tuples do not serialise to JSON).</summary>
    private sealed record RssSample(double Minutes, double Mib);

    private sealed class Counts
    {
        public long Single;
        public long Batched;
        public long Streamed;
        public long Probed;
        public long AdminOk;
        public long AdminUnavailable;
    }
}
