using System.Reflection;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace HardPair.Hosting.Rpc;

/// <summary>
/// Binds the generated gRPC services as grpc-dotnet does, but with request marshallers that turn a
/// message that does not parse into INTERNAL (what the gRPC status-code spec prescribes for an
/// unparsable request) instead of the UNKNOWN "exception was thrown by handler" grpc-dotnet reports:
/// requests are deserialised before any interceptor runs, so nothing later can translate it.
/// Why a method provider: an interceptor sees only parsed messages, and the code Grpc.Tools
/// generates has no hook for its marshallers; <see cref="IServiceMethodProvider{TService}"/> is
/// grpc-dotnet's public extension point for how a service's methods are bound. What is done by
/// reflection below is only what grpc-dotnet's own (internal) binder provider does — find the
/// generated <c>BindService</c> through <see cref="BindServiceMethodAttribute"/> and each
/// override — so the endpoints, their metadata and authorization are the same as without it
/// (the services' tests run through it).
/// </summary>
public static class UnparsableRequestStatus
{
    /// <summary>Replaces grpc-dotnet's binder method provider (call after <c>AddGrpc</c>).</summary>
    public static IServiceCollection AddUnparsableRequestStatus(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.RemoveAll(d => d.ServiceType == typeof(IServiceMethodProvider<>) && d.ImplementationType?.Name.StartsWith("BinderServiceMethodProvider", StringComparison.Ordinal) == true);
        services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(IServiceMethodProvider<>), typeof(ParsingCheckedMethodProvider<>)));
        return services;
    }

    private static void RemoveAll(this IServiceCollection services, Func<ServiceDescriptor, bool> match)
    {
        foreach (var descriptor in services.Where(match).ToList())
        {
            services.Remove(descriptor);
        }
    }

    /// <summary>The request marshaller of <paramref name="method"/>, with parse failures as INTERNAL.</summary>
    internal static Method<TRequest, TResponse> Checked<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var inner = method.RequestMarshaller;
        var marshaller = new Marshaller<TRequest>(
            inner.ContextualSerializer,
            context =>
            {
                try
                {
                    return inner.ContextualDeserializer(context);
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw new RpcException(new Status(StatusCode.Internal, $"the request message does not parse as {typeof(TRequest).Name} ({ex.Message})"));
                }
            });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, marshaller, method.ResponseMarshaller);
    }
}

/// <summary>grpc-dotnet's binder discovery (the generated <c>BindService</c>), with checked request marshallers.</summary>
internal sealed class ParsingCheckedMethodProvider<TService> : IServiceMethodProvider<TService>
    where TService : class
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<TService> context)
    {
        var attribute = typeof(TService).GetCustomAttributes<BindServiceMethodAttribute>(inherit: true).FirstOrDefault();
        var bind = attribute?.BindType.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .FirstOrDefault(m => m.Name == attribute.BindMethodName && m.GetParameters() is [var first, _] && first.ParameterType == typeof(ServiceBinderBase));
        if (bind is null)
        {
            return;
        }

        var binder = new Binder(context, bind.GetParameters()[1].ParameterType);
        try
        {
            bind.Invoke(null, [binder, null]);
        }
        catch (TargetInvocationException ex)
        {
            throw new InvalidOperationException($"Error binding gRPC service '{typeof(TService).Name}'.", ex.InnerException ?? ex);
        }
    }

    private sealed class Binder(ServiceMethodProviderContext<TService> context, Type declaringType) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            context.AddUnaryMethod(UnparsableRequestStatus.Checked(method), Metadata(method.Name, out var info), Invoker<UnaryServerMethod<TService, TRequest, TResponse>>(info));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddServerStreamingMethod(UnparsableRequestStatus.Checked(method), Metadata(method.Name, out var info), Invoker<ServerStreamingServerMethod<TService, TRequest, TResponse>>(info));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddClientStreamingMethod(UnparsableRequestStatus.Checked(method), Metadata(method.Name, out var info), Invoker<ClientStreamingServerMethod<TService, TRequest, TResponse>>(info));

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            context.AddDuplexStreamingMethod(UnparsableRequestStatus.Checked(method), Metadata(method.Name, out var info), Invoker<DuplexStreamingServerMethod<TService, TRequest, TResponse>>(info));

        private static TDelegate Invoker<TDelegate>(MethodInfo method)
            where TDelegate : Delegate => (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), method);

        /// <summary>
        /// The service's handler of <paramref name="name"/>: its override of the generated base
        /// method, or a method of its own when its bind method adds ones the generated code lacks
        /// (a service bound by a method of its own type); with the endpoint metadata grpc-dotnet gives it.
        /// </summary>
        private List<object> Metadata(string name, out MethodInfo method)
        {
            method = typeof(TService).GetMethods(BindingFlags.Public | BindingFlags.Instance)
                .FirstOrDefault(m => m.Name == name && m.GetBaseDefinition().DeclaringType is { } declared && declared.IsAssignableFrom(declaringType) && declared != typeof(object))
                ?? throw new InvalidOperationException($"Could not find '{name}' on {typeof(TService)}.");
            List<object> metadata = [.. typeof(TService).GetCustomAttributes(inherit: true), .. method.GetCustomAttributes(inherit: true)];
            metadata.Add(new HttpMethodMetadata(["POST"], acceptCorsPreflight: true));
            return metadata;
        }
    }
}
