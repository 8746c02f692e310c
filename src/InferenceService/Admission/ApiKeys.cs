using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace HardPair.InferenceService.Admission;

/// <summary>
/// The API keys that name clients for the rate limit (<see cref="RateLimitOptions.ApiKeysFile"/>):
/// <c>name:key</c> lines, kept as SHA-256 digests, re-read when the file changes (checked at most
/// once a second). A file that no longer parses leaves the last good set in force.
/// </summary>
public sealed partial class ApiKeys
{
    /// <summary>The request header that carries a key.</summary>
    public const string Header = "x-api-key";

    public const int MinimumKeyLength = 16;

    private readonly Lock gate = new();
    private readonly string? path;
    private readonly TimeProvider time;
    private readonly ILogger<ApiKeys> logger;
    private IReadOnlyDictionary<string, string> namesByDigest;
    private DateTime loadedWrite;
    private long checkedAt;

    public ApiKeys(IOptions<RateLimitOptions> options, TimeProvider time, ILogger<ApiKeys> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        path = string.IsNullOrEmpty(options.Value.ApiKeysFile) ? null : options.Value.ApiKeysFile;
        this.time = time;
        this.logger = logger;
        checkedAt = time.GetTimestamp();
        (namesByDigest, loadedWrite) = path is null ? (new Dictionary<string, string>(), default) : (Parse(File.ReadAllLines(path), path), File.GetLastWriteTimeUtc(path));
    }

    /// <summary>Whether keys are configured at all (without them the header is not read).</summary>
    public bool Configured => path is not null;

    /// <summary>The client a key names, or null when the key is not one of the configured ones.</summary>
    public string? NameOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var digest = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return Current().GetValueOrDefault(digest);
    }

    /// <summary>Parses a keys file; throws <see cref="FormatException"/> naming the bad line.</summary>
    internal static Dictionary<string, string> Parse(IReadOnlyList<string> lines, string source)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = colon > 0 ? line[..colon].Trim() : "";
            var key = colon > 0 ? line[(colon + 1)..].Trim() : "";
            if (name.Length == 0 || key.Length < MinimumKeyLength)
            {
                throw new FormatException($"{source} line {i + 1}: expected name:key with a key of at least {MinimumKeyLength} characters");
            }

            if (!names.TryAdd(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))), name))
            {
                throw new FormatException($"{source} line {i + 1}: this key is already given to another client");
            }
        }

        return names;
    }

    private IReadOnlyDictionary<string, string> Current()
    {
        if (path is null)
        {
            return namesByDigest;
        }

        lock (gate)
        {
            if (time.GetElapsedTime(checkedAt) < TimeSpan.FromSeconds(1))
            {
                return namesByDigest;
            }

            checkedAt = time.GetTimestamp();
            try
            {
                var written = File.GetLastWriteTimeUtc(path);
                if (written != loadedWrite)
                {
                    namesByDigest = Parse(File.ReadAllLines(path), path);
                    loadedWrite = written;
                    LogReloaded(logger, path, namesByDigest.Count);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                LogReloadFailed(logger, ex, path);
            }

            return namesByDigest;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "API keys re-read from {Path}: {Count} client(s)")]
    private static partial void LogReloaded(ILogger logger, string path, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "API keys in {Path} could not be re-read; the previous keys stay in force")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception, string path);
}
