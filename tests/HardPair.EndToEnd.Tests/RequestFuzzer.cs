using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;
using HardPair.Protos.V1;
using HardPair.Storage.Data;

namespace HardPair.EndToEnd.Tests;

/// <summary>What a fuzz case must get back: one of the allowed codes and, for a broken field, the violation naming it.</summary>
public sealed record Expectation(StatusCode[] Codes, string? Field = null)
{
    public static Expectation Ok { get; } = new([StatusCode.OK]);

    public static Expectation Invalid(string field) => new([StatusCode.InvalidArgument], field);

    public string? Mismatch(StatusCode code, RpcException? error)
    {
        if (!Codes.Contains(code))
        {
            return $"got {code} ({error?.Status.Detail}), expected {string.Join(" or ", Codes)}";
        }

        if (Field is null || error is null)
        {
            return null;
        }

        var fields = error.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations.Select(v => v.Field).ToList() ?? [];
        return fields.Contains(Field) ? null : $"violations [{string.Join(", ", fields)}] do not name {Field} ({error.Status.Detail})";
    }
}

/// <summary>One generated call: a name for the failure message, what to send, what must come back.</summary>
public sealed record FuzzCase(string Name, Func<FuzzTargets, Task> Call, Expectation Expected);

/// <summary>The clients a case may call through.</summary>
public sealed record FuzzTargets(Classifier.ClassifierClient Classifier, Admin.AdminClient Admin, Admin.AdminClient Anonymous, RawGrpc Raw, CancellationToken Cancellation);

/// <summary>
/// Seeded hostile-input generator. Every case is a valid request with one deliberate defect (or
/// none), so the right answer is known by construction: OK, or INVALID_ARGUMENT naming the broken
/// field; raw frames and admin calls have their own allowed codes.
/// </summary>
public sealed class RequestFuzzer(int seed, ImageDataset images)
{
    private static readonly int[] ExtremeInts = [int.MinValue, -1_000_000, -28, -1, 0, 1, 2, 3, 27, 29, 784, 1_000_000, int.MaxValue];
    private static readonly float[] BadFloats = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0.5f, 1.0001f, float.MaxValue, float.MinValue, -float.Epsilon];
    private static readonly string[] HostileStrings =
    [
        "", "../../etc/passwd", "..", ".staging", "v20260101T000000000Z-aaaaaaaa/../x", "\0", "\u202e\u0000evil", new string('v', 10_000),
        "v99999999T999999999Z-ffffffff", "%s%n%x", "' OR 1=1 --", "\ud83d\ude00", "/absolute/path", "C:\\\\windows",
    ];

    private readonly Random random = new(seed);

    public FuzzCase Next()
    {
        var roll = random.Next(100);
        return roll switch
        {
            < 18 => ValidClassify(),
            < 50 => BrokenImage(),
            < 56 => BrokenTopK(),
            < 60 => LongRequestId(),
            < 70 => Batch(),
            < 75 => Stream(),
            < 88 => RawFrame(),
            _ => AdminCall(),
        };
    }

    private FuzzCase ValidClassify()
    {
        var request = new ClassifyRequest { Image = ValidImage(), TopK = random.Next(0, 11), RequestId = RandomText(random.Next(0, 200)) };
        return new FuzzCase($"valid {request.Image.DataCase} top_k {request.TopK}", async t =>
        {
            var answer = await t.Classifier.ClassifyAsync(request, cancellationToken: t.Cancellation);
            if (answer.RequestId != request.RequestId || answer.TopK.Count != (request.TopK == 0 ? 3 : request.TopK))
            {
                throw new InvalidOperationException($"answer does not match the request: id echoed {answer.RequestId == request.RequestId}, top_k {answer.TopK.Count}");
            }
        }, Expectation.Ok);
    }

    private FuzzCase BrokenImage()
    {
        var (name, image, field) = random.Next(9) switch
        {
            0 => ("no image", null, "image"),
            1 => WrongShape(),
            2 => ("uint8 wrong count", new Image { Uint8Pixels = RandomBytes(OtherThan(784, 20_000)), Shape = { 1, 28, 28 } }, "image.uint8_pixels"),
            3 => ("float wrong count", FloatImage(OtherThan(784, 5_000)), "image.float_pixels.values"),
            4 => BadFloatValue(),
            5 => ("png random bytes", new Image { Png = RandomBytes(random.Next(0, 4096)) }, "image.png"),
            6 => TruncatedPng(),
            7 => ("png huge header", new Image { Png = ByteString.CopyFrom(PngWithHeader(random.Next(29, int.MaxValue), random.Next(29, int.MaxValue))) }, "image.png"),
            _ => ("png wrong size", new Image { Png = ByteString.CopyFrom(PngWithHeader(random.Next(1, 64), 27)) }, "image.png"),
        };
        var request = new ClassifyRequest { Image = image };
        return new FuzzCase(name, t => t.Classifier.ClassifyAsync(request, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid(field));
    }

    private (string, Image?, string) WrongShape()
    {
        var image = new Image { Uint8Pixels = RandomBytes(random.Next(0, 2000)) };
        do
        {
            image.Shape.Clear();
            image.Shape.AddRange(Enumerable.Range(0, random.Next(0, 7)).Select(_ => ExtremeInts[random.Next(ExtremeInts.Length)]));
        }
        while (image.Shape.SequenceEqual([1, 28, 28]) || image.Shape.SequenceEqual([28, 28]));

        return ($"shape [{string.Join(",", image.Shape)}]", image, "image.shape");
    }

    private (string, Image?, string) BadFloatValue()
    {
        var image = FloatImage(784);
        var index = random.Next(784);
        var bad = BadFloats[random.Next(BadFloats.Length)];
        image.FloatPixels.Values[index] = bad;
        return ($"float {bad} at {index}", image, $"image.float_pixels.values[{index}]");
    }

    private (string, Image?, string) TruncatedPng()
    {
        var png = TestPng(random.Next(images.Count));
        var cut = random.Next(1, png.Length - 12); // anything short of the IEND chunk
        return ($"png cut at {cut} of {png.Length}", new Image { Png = ByteString.CopyFrom(png, 0, cut) }, "image.png");
    }

    private FuzzCase BrokenTopK()
    {
        var topK = random.Next(2) == 0 ? random.Next(int.MinValue, 0) : random.Next(11, int.MaxValue);
        var request = new ClassifyRequest { Image = ValidImage(), TopK = topK };
        return new FuzzCase($"top_k {topK}", t => t.Classifier.ClassifyAsync(request, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid("top_k"));
    }

    private FuzzCase LongRequestId()
    {
        var request = new ClassifyRequest { Image = ValidImage(), RequestId = RandomText(random.Next(201, 5000)) };
        return new FuzzCase("long request_id", t => t.Classifier.ClassifyAsync(request, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid("request_id"));
    }

    private FuzzCase Batch()
    {
        var kind = random.Next(3);
        var count = kind switch { 0 => 0, 1 => random.Next(257, 320), _ => random.Next(1, 48) };
        var batch = new ClassifyBatchRequest { Requests = { Enumerable.Range(0, count).Select(_ => new ClassifyRequest { Image = ValidImage() }) } };
        if (kind != 2)
        {
            return new FuzzCase($"batch of {count}", t => t.Classifier.ClassifyBatchAsync(batch, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid("requests"));
        }

        if (random.Next(2) == 0)
        {
            return new FuzzCase($"valid batch of {count}", async t =>
            {
                var answers = await t.Classifier.ClassifyBatchAsync(batch, cancellationToken: t.Cancellation);
                if (answers.Responses.Count != count)
                {
                    throw new InvalidOperationException($"{answers.Responses.Count} answers for {count} requests");
                }
            }, Expectation.Ok);
        }

        var broken = random.Next(count);
        batch.Requests[broken].Image = null;
        return new FuzzCase($"batch of {count}, #{broken} without image", t => t.Classifier.ClassifyBatchAsync(batch, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid($"requests[{broken}].image"));
    }

    private FuzzCase Stream()
    {
        var count = random.Next(1, 6);
        var broken = random.Next(2) == 0 ? random.Next(count) : -1;
        var requests = Enumerable.Range(0, count).Select(i => new ClassifyRequest { Image = i == broken ? null : ValidImage(), RequestId = $"m{i}" }).ToList();
        return new FuzzCase($"stream of {count}, broken {broken}", async t =>
        {
            using var call = t.Classifier.ClassifyStream(cancellationToken: t.Cancellation);
            var answered = 0;
            var reader = Task.Run(async () =>
            {
                while (await call.ResponseStream.MoveNext(t.Cancellation))
                {
                    answered++;
                }
            });
            foreach (var request in requests)
            {
                try
                {
                    await call.RequestStream.WriteAsync(request, t.Cancellation);
                }
                catch (RpcException)
                {
                    break; // the server ended the call at the broken message
                }
                catch (InvalidOperationException)
                {
                    break;
                }
            }

            await call.RequestStream.CompleteAsync();
            await reader;
            if (answered != (broken < 0 ? count : broken))
            {
                throw new InvalidOperationException($"{answered} answers before the end");
            }
        }, broken < 0 ? Expectation.Ok : Expectation.Invalid("image"));
    }

    private FuzzCase RawFrame()
    {
        var valid = new ClassifyRequest { Image = ValidImage() }.ToByteArray();
        // A frame whose message does not parse as protobuf is INTERNAL (the status-code spec's
        // answer); random bytes that happen to parse reach validation (INVALID_ARGUMENT).
        StatusCode[] unparsable = [StatusCode.Internal, StatusCode.InvalidArgument];
        var (name, body, codes) = random.Next(5) switch
        {
            0 => RandomFrame(unparsable),
            1 => ("truncated frame", RawGrpc.Frame(valid)[..random.Next(1, valid.Length + 4)], [StatusCode.Internal]),
            2 => ("garbage message", RawGrpc.Frame(RandomBytes(random.Next(1, 3000)).ToByteArray()), unparsable),
            3 => ("declared 1 GiB", RawGrpc.Header(compressed: false, 1 << 30).Concat(valid).ToArray(), [StatusCode.ResourceExhausted]),
            _ => ("compressed flag without encoding", RawGrpc.Frame(valid, compressed: true), [StatusCode.Internal, StatusCode.Unimplemented]),
        };
        return new FuzzCase($"raw {name}", async t =>
        {
            var code = await t.Raw.CallAsync("/hardpair.v1.Classifier/Classify", body, t.Cancellation);
            if (code != StatusCode.OK)
            {
                throw new RpcException(new Grpc.Core.Status(code, "raw call"));
            }
        }, new Expectation(codes));
    }

    /// <summary>Random bytes as the body: a malformed frame (INTERNAL), too long a one, or a message that does not parse.</summary>
    private (string, byte[], StatusCode[]) RandomFrame(StatusCode[] unparsable)
    {
        var body = RandomBytes(random.Next(1, 3000)).ToByteArray();
        return ($"random bytes, flag {body[0]}", body, [.. unparsable, StatusCode.ResourceExhausted, StatusCode.Unimplemented]);
    }

    private FuzzCase AdminCall()
    {
        var text = HostileStrings[random.Next(HostileStrings.Length)] + (random.Next(2) == 0 ? RandomText(random.Next(0, 40)) : "");
        return random.Next(6) switch
        {
            0 => new FuzzCase("admin without token", t => t.Anonymous.ListModelsAsync(new ListModelsRequest(), cancellationToken: t.Cancellation).ResponseAsync, new Expectation([StatusCode.Unauthenticated])),
            1 => new FuzzCase($"activate '{Short(text)}'", t => t.Admin.ActivateModelAsync(new ActivateModelRequest { Version = text.Length == 0 ? "x" : text, Pin = true }, cancellationToken: t.Cancellation).ResponseAsync, new Expectation([StatusCode.NotFound, StatusCode.InvalidArgument])),
            2 => new FuzzCase($"notify '{Short(text)}'", t => t.Admin.NotifyCheckpointAsync(new NotifyCheckpointRequest { Version = text }, cancellationToken: t.Cancellation).ResponseAsync, text.Length == 0 ? Expectation.Ok : new Expectation([StatusCode.NotFound, StatusCode.InvalidArgument])),
            3 => new FuzzCase($"retrain method '{Short(text)}'", t => t.Admin.TriggerRetrainingAsync(new StartRunRequest { Method = "x" + text }, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid("method")),
            4 => SubmitBroken(),
            _ => new FuzzCase("list models", t => t.Admin.ListModelsAsync(new ListModelsRequest(), cancellationToken: t.Cancellation).ResponseAsync, Expectation.Ok),
        };
    }

    private FuzzCase SubmitBroken()
    {
        var label = random.Next(2) == 0 ? random.Next(int.MinValue, 0) : random.Next(10, int.MaxValue);
        var request = new SubmitExamplesRequest { Examples = { new LabelledExample { Pixels = ByteString.CopyFrom(images.Image(random.Next(images.Count))), Label = label } }, Source = "fuzz" };
        return new FuzzCase($"submit label {label}", t => t.Admin.SubmitLabeledExamplesAsync(request, cancellationToken: t.Cancellation).ResponseAsync, Expectation.Invalid("examples[0].label"));
    }

    private Image ValidImage()
    {
        var index = random.Next(images.Count);
        return random.Next(4) switch
        {
            0 => new Image { Uint8Pixels = ByteString.CopyFrom(images.Image(index)), Shape = { 28, 28 } },
            1 => FloatImageOf(index),
            2 => new Image { Png = ByteString.CopyFrom(TestPng(index)) },
            _ => new Image { Uint8Pixels = ByteString.CopyFrom(images.Image(index)), Shape = { 1, 28, 28 } },
        };
    }

    private Image FloatImage(int count)
    {
        var image = new Image { FloatPixels = new FloatPixels(), Shape = { 1, 28, 28 } };
        image.FloatPixels.Values.AddRange(Enumerable.Range(0, count).Select(_ => (float)random.NextDouble()));
        return image;
    }

    private Image FloatImageOf(int index)
    {
        var image = new Image { FloatPixels = new FloatPixels(), Shape = { 1, 28, 28 } };
        foreach (var b in images.Image(index))
        {
            image.FloatPixels.Values.Add(b / 255f);
        }

        return image;
    }

    private int OtherThan(int value, int max)
    {
        int n;
        do
        {
            n = random.Next(0, max);
        }
        while (n == value);
        return n;
    }

    private ByteString RandomBytes(int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }

    private string RandomText(int length) =>
        new([.. Enumerable.Range(0, length).Select(_ => random.Next(4) == 0 ? (char)random.Next(0x20, 0xD7FF) : (char)random.Next(0x20, 0x7F))]);

    private static string Short(string text) => text.Length > 30 ? text[..30] + "…" : text;

    private byte[] TestPng(int index)
    {
        var pixels = images.Image(index);
        var raw = new MemoryStream();
        for (var y = 0; y < 28; y++)
        {
            raw.WriteByte(0);
            raw.Write(pixels.Slice(y * 28, 28));
        }

        return Png(28, 28, raw.ToArray());
    }

    private static byte[] PngWithHeader(int width, int height) => Png(width, height, new byte[16]);

    private static byte[] Png(int width, int height, byte[] raw)
    {
        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            zlib.Write(raw);
        }

        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        png.Write(length);
        png.Write(typed);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, System.IO.Hashing.Crc32.HashToUInt32(typed));
        png.Write(crc);
    }
}
