namespace HardPair.Testing;

/// <summary>The checkout these tests were built from (the folder holding HardPair.Services.sln).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "HardPair.Services.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no HardPair.Services.sln above {AppContext.BaseDirectory}");
    }
}
