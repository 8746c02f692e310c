using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using HardPair.Storage.Checkpoints;
using HardPair.Storage.Data;

namespace HardPair.TrainerSidecar.Feedback;

/// <summary>
/// Labelled feedback examples in append-only files. A record is
/// <c>[magic u32][payload length u32][crc32 u32][payload]</c>. An example's payload (magic
/// "FPB1") is <c>[label u16][source length u16][source utf-8][pixels]</c>; each append (one
/// SubmitExamples call) starts with a call record (magic "FPC1") whose payload is
/// <c>[request id length u16][request id utf-8][examples u32]</c>, so that a retried call is
/// recognised by its id — across restarts too — and stored once. An append is one write, flushed
/// to disk (fsync) before it returns, so an acknowledged example survives a crash. On open, a torn
/// last append (a crash mid-write, never acknowledged) is cut off whole, from its call record on;
/// damage anywhere else is refused. Files written before call records existed read as before.
/// <para>
/// With several sidecars on one shared state folder (replicas with leader election) each appends
/// to a file of its own, <c>feedback-&lt;writer&gt;.log</c>: appends from two machines to one file
/// are not atomic on network file systems, and one sidecar cutting a "torn tail" could cut off
/// another's append in flight. A lone sidecar keeps <c>feedback.log</c>. Counting and reading take
/// every writer's file, so the sidecar that trains sees what was submitted to any of them.
/// </para>
/// </summary>
public sealed partial class FeedbackLog : IDisposable
{
    public const string FileName = "feedback.log";

    /// <summary>Longest request id (UTF-8 bytes) a call record holds.</summary>
    public const int MaxRequestIdBytes = 512;

    private const uint Magic = 0x31425046; // "FPB1" little-endian
    private const uint CallMagic = 0x31435046; // "FPC1" little-endian
    private const int HeaderBytes = 12;

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ImageShape shape;
    private readonly string folder;
    private readonly Lock othersGate = new();

    // Other writers' files, counted up to the end of their last whole append so far.
    private readonly Dictionary<string, (long Position, long Records)> others = new(StringComparer.Ordinal);

    // Every stored call's request id (every writer's), with its number of examples.
    private readonly Dictionary<string, int> calls = new(StringComparer.Ordinal);
    private long count;

    public FeedbackLog(string folder, ImageShape shape, string? writer = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (writer is not null && !WriterName().IsMatch(writer))
        {
            throw new ArgumentException($"'{writer}' cannot name a feedback file: letters, digits, '.', '_' and '-' only, at most 200", nameof(writer));
        }

        Directory.CreateDirectory(folder);
        this.folder = System.IO.Path.GetFullPath(folder);
        Path = System.IO.Path.Combine(this.folder, writer is null ? FileName : $"feedback-{writer}.log");
        this.shape = shape;
        var created = !File.Exists(Path);
        using (var stream = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read))
        {
            var (records, validLength) = Scan(stream, Path, shape, onRecord: null, onCall: Remember);
            if (validLength < stream.Length)
            {
                TornBytes = stream.Length - validLength;
                stream.SetLength(validLength);
                stream.Flush(flushToDisk: true);
            }

            count = records;
        }

        if (created)
        {
            DurableFiles.FlushDirectory(folder);
        }
    }

    /// <summary>This sidecar's own file, the one it appends to.</summary>
    public string Path { get; }

    /// <summary>The image shape every example must have.</summary>
    public ImageShape Shape => shape;

    /// <summary>Bytes of an unacknowledged, half-written last record cut off when the log was opened.</summary>
    public long TornBytes { get; }

    /// <summary>Examples in every writer's file (this sidecar's own and, read as they grow, the others').</summary>
    public long Count => Interlocked.Read(ref count) + CountOthers();

    /// <summary>Appends the examples as one call with a fresh request id; returns <see cref="Count"/> after it.</summary>
    public async Task<long> AppendAsync(IReadOnlyList<(byte[] Pixels, int Label)> examples, string source, CancellationToken cancellationToken) =>
        (await AppendAsync(examples, source, Guid.NewGuid().ToString("N"), cancellationToken)).Total;

    /// <summary>
    /// Appends the examples, behind a call record holding <paramref name="requestId"/>, as one
    /// write to this sidecar's file and fsyncs — unless a call with that id is stored already (in
    /// any writer's file): then nothing is written, and the answer says so.
    /// </summary>
    public async Task<FeedbackAppend> AppendAsync(IReadOnlyList<(byte[] Pixels, int Label)> examples, string source, string requestId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        var sourceBytes = Encoding.UTF8.GetBytes(source);
        if (sourceBytes.Length > ushort.MaxValue)
        {
            throw new ArgumentException("source is too long", nameof(source));
        }

        var idBytes = Encoding.UTF8.GetBytes(requestId);
        if (idBytes.Length > MaxRequestIdBytes)
        {
            throw new ArgumentException($"the request id is longer than {MaxRequestIdBytes} bytes", nameof(requestId));
        }

        var callBytes = HeaderBytes + 2 + idBytes.Length + 4;
        var recordBytes = HeaderBytes + 4 + sourceBytes.Length + shape.Elements;
        var buffer = new byte[callBytes + (recordBytes * examples.Count)];
        var call = buffer.AsSpan(0, callBytes);
        BinaryPrimitives.WriteUInt16LittleEndian(call[HeaderBytes..], (ushort)idBytes.Length);
        idBytes.CopyTo(call[(HeaderBytes + 2)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(call[(HeaderBytes + 2 + idBytes.Length)..], (uint)examples.Count);
        Seal(call, CallMagic);
        for (var i = 0; i < examples.Count; i++)
        {
            var (pixels, label) = examples[i];
            if (pixels.Length != shape.Elements || label is < 0 or > ushort.MaxValue)
            {
                throw new ArgumentException($"example {i} is not a {shape} image with a label", nameof(examples));
            }

            var record = buffer.AsSpan(callBytes + (i * recordBytes), recordBytes);
            var payload = record[HeaderBytes..];
            BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)label);
            BinaryPrimitives.WriteUInt16LittleEndian(payload[2..], (ushort)sourceBytes.Length);
            sourceBytes.CopyTo(payload[4..]);
            pixels.CopyTo(payload[(4 + sourceBytes.Length)..]);
            Seal(record, Magic);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            // The other writers' files are read up to now first, so a retry that reached another
            // replica's file is found too.
            CountOthers();
            int stored;
            lock (calls)
            {
                if (!calls.TryGetValue(requestId, out stored))
                {
                    stored = -1;
                }
            }

            if (stored >= 0)
            {
                return new FeedbackAppend(stored, Count, Duplicate: true);
            }

            // Past this point the append is not abandoned on cancellation: half an append is
            // what the torn-tail recovery is for, but a caller must never be told "no" after "yes".
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            stream.Write(buffer);
            stream.Flush(flushToDisk: true);
            Interlocked.Add(ref count, examples.Count);
            Remember(requestId, examples.Count);
        }
        finally
        {
            gate.Release();
        }

        return new FeedbackAppend(examples.Count, Count, Duplicate: false);
    }

    /// <summary>Every example in every writer's file (files in name order, each in append order), as a dataset.</summary>
    public ImageDataset Read(string name, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var pixels = new List<byte>();
        var labels = new List<byte>();
        foreach (var file in WriterFiles())
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            Scan(stream, file, shape, (label, image) =>
            {
                if (label >= classNames.Count || label > byte.MaxValue)
                {
                    throw new DatasetException(file, $"holds label {label}, but the model has {classNames.Count} classes");
                }

                labels.Add((byte)label);
                pixels.AddRange(image);
            });
        }

        return new ImageDataset(name, [.. pixels], [.. labels], shape, classNames);
    }

    public void Dispose() => gate.Dispose();

    /// <summary>Every writer's file in the folder, this sidecar's own included, in name order.</summary>
    private IEnumerable<string> WriterFiles() =>
        Directory.EnumerateFiles(folder, "feedback*.log")
            .Where(f => System.IO.Path.GetFileName(f) is var n && (n == FileName || n.StartsWith("feedback-", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// Whole records in the other writers' files, scanning only what each grew by since the last
    /// count. A record still being appended counts once it is whole; a file damaged before its
    /// end counts up to where it was last whole (reading it for a run reports the damage).
    /// </summary>
    private long CountOthers()
    {
        lock (othersGate)
        {
            long total = 0;
            foreach (var file in WriterFiles().Where(f => f != Path))
            {
                var (position, records) = others.GetValueOrDefault(file);
                try
                {
                    using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    if (stream.Length < position)
                    {
                        (position, records) = (0, 0); // replaced (restored from a backup, say): counted afresh
                    }

                    if (stream.Length > position)
                    {
                        var (more, end) = Scan(stream, file, shape, onRecord: null, start: position, onCall: Remember);
                        (position, records) = (end, records + more);
                    }
                }
                catch (Exception ex) when (ex is DatasetException or IOException)
                {
                    // Counted as far as it was last whole.
                }

                others[file] = (position, records);
                total += records;
            }

            return total;
        }
    }

    /// <summary>
    /// Counts the valid examples and returns where the last whole append ends; throws on damage
    /// before the last record. <paramref name="onRecord"/> sees each example of a whole append
    /// (label, pixels) and <paramref name="onCall"/> each whole append's request id and size;
    /// a torn last append — its call record whole but not all its examples — counts for nothing.
    /// </summary>
    private static (long Records, long ValidLength) Scan(Stream stream, string path, ImageShape shape, Action<int, byte[]>? onRecord, long start = 0, Action<string, int>? onCall = null)
    {
        stream.Position = start;
        var header = new byte[HeaderBytes];
        long records = 0, position = start;

        // The append being read: where its call record starts, its id, the examples still to
        // come and those read so far (delivered once it is whole).
        long callStart = start;
        string? callId = null;
        var callLeft = 0;
        var callExamples = new List<(int Label, byte[] Pixels)>();

        (long, long) Whole(long at) => callLeft > 0 ? (records, callStart) : (records, at);

        while (position < stream.Length)
        {
            if (stream.Length - position < HeaderBytes)
            {
                return Whole(position);
            }

            stream.ReadExactly(header);
            var magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
            var end = position + HeaderBytes + length;
            var plausible = magic == Magic
                ? length >= 4 + shape.Elements && length <= 4 + ushort.MaxValue + shape.Elements
                : magic == CallMagic && length >= 2 + 1 + 4 && length <= 2 + MaxRequestIdBytes + 4;
            if (!plausible)
            {
                return IsTail(stream, end) ? Whole(position) : throw Damaged(path, position, "an unreadable record header");
            }

            if (end > stream.Length)
            {
                return Whole(position);
            }

            var payload = new byte[length];
            stream.ReadExactly(payload);
            if (Crc32.HashToUInt32(payload) != crc)
            {
                return end == stream.Length ? Whole(position) : throw Damaged(path, position, "a checksum mismatch");
            }

            if (magic == CallMagic)
            {
                var idLength = BinaryPrimitives.ReadUInt16LittleEndian(payload);
                if (2 + idLength + 4 != payload.Length)
                {
                    throw Damaged(path, position, "a call record of the wrong length");
                }

                if (callLeft > 0)
                {
                    throw Damaged(path, position, "an append cut short before another one");
                }

                (callStart, callId, callLeft) = (position, Encoding.UTF8.GetString(payload, 2, idLength), (int)BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(2 + idLength)));
                callExamples.Clear();
            }
            else
            {
                var sourceLength = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(2));
                var image = payload.AsSpan(4 + sourceLength);
                if (image.Length != shape.Elements)
                {
                    throw Damaged(path, position, $"an image of {image.Length} bytes where {shape} needs {shape.Elements}");
                }

                var label = BinaryPrimitives.ReadUInt16LittleEndian(payload);
                if (callLeft > 0)
                {
                    callExamples.Add((label, image.ToArray()));
                    callLeft--;
                }
                else
                {
                    // A record of a file from before call records: an append of its own.
                    onRecord?.Invoke(label, image.ToArray());
                    records++;
                }
            }

            position = end;
            if (callId is not null && callLeft == 0)
            {
                foreach (var (label, image) in callExamples)
                {
                    onRecord?.Invoke(label, image);
                }

                records += callExamples.Count;
                onCall?.Invoke(callId, callExamples.Count);
                callId = null;
                callExamples.Clear();
            }
        }

        return Whole(position);
    }

    private static void Seal(Span<byte> record, uint magic)
    {
        var payload = record[HeaderBytes..];
        BinaryPrimitives.WriteUInt32LittleEndian(record, magic);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Crc32.HashToUInt32(payload));
    }

    private void Remember(string requestId, int examples)
    {
        lock (calls)
        {
            calls.TryAdd(requestId, examples);
        }
    }

    /// <summary>
    /// A bad header is a torn tail when what it declares runs past the end, or when everything
    /// from it on is zeros (the file grew but the data never reached the disk).
    /// </summary>
    private static bool IsTail(Stream stream, long declaredEnd)
    {
        if (declaredEnd >= stream.Length)
        {
            return true;
        }

        stream.Position -= HeaderBytes;
        var rest = new byte[stream.Length - stream.Position];
        stream.ReadExactly(rest);
        return !rest.AsSpan().ContainsAnyExcept((byte)0);
    }

    private static DatasetException Damaged(string path, long offset, string what) =>
        new(path, $"is damaged at byte {offset} ({what}) with acknowledged records after it; restore it from a backup or move it aside");

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
    private static partial System.Text.RegularExpressions.Regex WriterName();
}

/// <summary>What an append did: the call's examples in the log, the log's total after it, and whether the call's request id was stored already (then nothing was written).</summary>
public sealed record FeedbackAppend(int Accepted, long Total, bool Duplicate);
