namespace HardPair.Testing;

/// <summary>The checkout these tests were built from (the folder holding HardPair.Services.sln).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    /// <summary>The shipped bootstrap checkpoint's folder (<c>models/bootstrap/&lt;version&gt;</c>).</summary>
    public static string Bootstrap => Directory.GetDirectories(Path.Combine(Root, "models", "bootstrap")).Single();

    /// <summary>
    /// A schema-1 checkpoint folder as the first bootstrap shipped it (single attacks, no worst
    /// case): what an old store still holds (<c>tests/fixtures/checkpoints</c>).
    /// </summary>
    public static string SchemaOneCheckpoint => Path.Combine(Root, "tests", "fixtures", "checkpoints", "v20261125T202913066Z-a9cd1db9");

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
