using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace HardPair.ML.Torch;

public static class TorchRuntimeExtensions
{
    /// <summary>
    /// Binds and validates the <c>Torch</c> section and starts Torch through
    /// <see cref="TorchRuntime"/> when the host starts, before any hosted service that needs it.
    /// </summary>
    public static IServiceCollection AddTorchRuntime(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TorchRuntimeOptions>()
            .Bind(configuration.GetSection(TorchRuntimeOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddHostedService<TorchRuntimeStartup>();
        return services;
    }
}
