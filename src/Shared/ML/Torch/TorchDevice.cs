namespace HardPair.ML.Torch;

/// <summary>A parsed device request.</summary>
public readonly record struct DeviceRequest(DeviceKind Kind, int? CudaIndex)
{
    public static DeviceRequest Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var text = value.Trim().ToLowerInvariant();
        switch (text)
        {
            case "auto":
                return new DeviceRequest(DeviceKind.Auto, null);
            case "cpu":
                return new DeviceRequest(DeviceKind.Cpu, null);
            case "cuda":
                return new DeviceRequest(DeviceKind.Cuda, null);
        }

        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index))
        {
            return new DeviceRequest(DeviceKind.Cuda, index);
        }

        throw new ArgumentException($"Unknown device '{value}': expected auto, cpu, cuda or cuda:N.", nameof(value));
    }
}

public enum DeviceKind
{
    Auto,
    Cpu,
    Cuda,
}
