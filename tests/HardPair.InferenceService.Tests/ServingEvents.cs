using HardPair.InferenceService.Models;
using HardPair.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace HardPair.InferenceService.Tests;

/// <summary>Awaiting what the service does, instead of sleeping and asking.</summary>
internal static class ServingEvents
{
    /// <summary>Completes once <paramref name="version"/> serves (at once if it does already): the host's swap event.</summary>
    public static async Task WaitUntilServingAsync(this LoopbackHost host, string version)
    {
        var models = host.App.Services.GetRequiredService<ModelHost>();
        var swapped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSwap(ModelDescription model)
        {
            if (model.Version == version)
            {
                swapped.TrySetResult();
            }
        }

        models.Swapped += OnSwap;
        try
        {
            if (models.Current?.Version != version)
            {
                await swapped.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current);
            }
        }
        finally
        {
            models.Swapped -= OnSwap;
        }
    }
}
