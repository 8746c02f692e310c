using System.Diagnostics;

namespace HardPair.Testing;

/// <summary>Runs one of the solution's executables as a real process (<c>dotnet X.dll args</c>) and collects its output.</summary>
public static class ChildProcess
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>
    /// Runs the executable to its end, or — with <paramref name="killWhen"/> — SIGKILLs it as soon
    /// as the condition holds (polled every 20 ms), as a lost machine would; the result's exit code
    /// is then 137.
    /// </summary>
    public static async Task<Result> RunAsync(string assemblyName, IEnumerable<string> args, TimeSpan timeout, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null, Func<bool>? killWhen = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, $"{assemblyName}.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {assemblyName}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var exited = process.WaitForExitAsync(deadline.Token);
            while (killWhen is not null && !exited.IsCompleted)
            {
                if (killWhen())
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(deadline.Token);
                    return new Result(137, await output, await error);
                }

                await Task.WhenAny(exited, Task.Delay(20, deadline.Token));
            }

            await exited;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{assemblyName} {string.Join(' ', args)} did not finish within {timeout}; stderr so far: {await error}");
        }

        return new Result(process.ExitCode, await output, await error);
    }
}
