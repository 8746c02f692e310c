namespace HardPair.Architecture.Tests;

public static class Repository
{
    /// <summary>The checkout the tests run in: the folder above the test's output that holds the solution.</summary>
    public static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "HardPair.Services.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("the repository root (HardPair.Services.sln) is not above the test's folder");
    }
}
