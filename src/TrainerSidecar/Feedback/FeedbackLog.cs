using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using HardPair.Shared.Checkpoints;
using HardPair.Shared.Data;

namespace HardPair.TrainerSidecar.Feedback;

/// <summary>
/// Labelled feedback examples in append-only files. A record is
/// <c>[magic u32][payload length u32][crc32 u32][payload]</c>, the payload
/// <c>[label u16][source length u16][source utf-8][pixels]</c>. An append is flushed to disk
/// (fsync) before it returns, so an acknowledged example survives a crash. On open, a torn last
/// record (a crash mid-append, never acknowledged) is cut off; damage anywhere else is refused.
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
    private const uint Magic = 0x31425046; // "FPB1" little-endian
    private const int HeaderBytes = 12;

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ImageShape shape;
    private readonly string folder;
    private readonly Lock othersGate = new();

    // Other writers' files, counted up to the end of their last whole record so far.
    private readonly Dictionary<string, (long Position, long Records)> others = new(StringComparer.Ordinal);
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
            var (records, validLength) = Scan(stream, Path, shape, onRecord: null);
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

    /// <summary>Appends the examples as one write to this sidecar's file and fsyncs; returns <see cref="Count"/> after it.</summary>
    public async Task<long> AppendAsync(IReadOnlyList<(byte[] Pixels, int Label)> examples, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(source);
        var sourceBytes = Encoding.UTF8.GetBytes(source);
        if (sourceBytes.Length > ushort.MaxValue)
        {
            throw new ArgumentException("source is too long", nameof(source));
        }

        var recordBytes = HeaderBytes + 4 + sourceBytes.Length + shape.Elements;
        var buffer = new byte[recordBytes * examples.Count];
        for (var i = 0; i < examples.Count; i++)
        {
            var (pixels, label) = examples[i];
            if (pixels.Length != shape.Elements || label is < 0 or > ushort.MaxValue)
            {
                throw new ArgumentException($"example {i} is not a {shape} image with a label", nameof(examples));
            }

            var record = buffer.AsSpan(i * recordBytes, recordBytes);
            var payload = record[HeaderBytes..];
            BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)label);
            BinaryPrimitives.WriteUInt16LittleEndian(payload[2..], (ushort)sourceBytes.Length);
            sourceBytes.CopyTo(payload[4..]);
            pixels.CopyTo(payload[(4 + sourceBytes.Length)..]);
            BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)payload.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], Crc32.HashToUInt32(payload));
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            // Past this point the append is not abandoned on cancellation: half an append is
            // what the torn-tail recovery is for, but a caller must never be told "no" after "yes".
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            stream.Write(buffer);
            stream.Flush(flushToDisk: true);
            Interlocked.Add(ref count, examples.Count);
        }
        finally
        {
            gate.Release();
        }

        return Count;
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
                        var (more, end) = Scan(stream, file, shape, onRecord: null, start: position);
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

    /// <summary>Counts the valid records and returns where they end; throws on damage before the last record.</summary>
    private static (long Records, long ValidLength) Scan(Stream stream, string path, ImageShape shape, Action<int, ReadOnlySpan<byte>>? onRecord, long start = 0)
    {
        stream.Position = start;
        var header = new byte[HeaderBytes];
        long records = 0, position = start;
        while (position < stream.Length)
        {
            if (stream.Length - position < HeaderBytes)
            {
                return (records, position);
            }

            stream.ReadExactly(header);
            var magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(8));
            var end = position + HeaderBytes + length;
            if (magic != Magic || length < 4 + shape.Elements || length > 4 + ushort.MaxValue + shape.Elements)
            {
                return IsTail(stream, end) ? (records, position) : throw Damaged(path, position, "an unreadable record header");
            }

            if (end > stream.Length)
            {
                return (records, position);
            }

            var payload = new byte[length];
            stream.ReadExactly(payload);
            if (Crc32.HashToUInt32(payload) != crc)
            {
                return end == stream.Length ? (records, position) : throw Damaged(path, position, "a checksum mismatch");
            }

            var sourceLength = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(2));
            var image = payload.AsSpan(4 + sourceLength);
            if (image.Length != shape.Elements)
            {
                throw Damaged(path, position, $"an image of {image.Length} bytes where {shape} needs {shape.Elements}");
            }

            onRecord?.Invoke(BinaryPrimitives.ReadUInt16LittleEndian(payload), image);
            records++;
            position = end;
        }

        return (records, position);
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
