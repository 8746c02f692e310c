# The inference service. Build from the repository root:
#   docker build -f docker/inference.Dockerfile -t hardpair/inference:0.1.0 .
#   docker build -f docker/inference.Dockerfile --build-arg VARIANT=cuda -t hardpair/inference:0.1.0-cuda .
# The base images are build arguments; their defaults are the public ones. Without a registry,
# scripts/build-images.sh passes local stand-ins it makes (docs/IMAGES.md).
ARG VARIANT=cpu
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

FROM ${SDK_IMAGE} AS build
ARG VARIANT
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props HardPair.Services.sln ./
COPY protos/ protos/
COPY src/ src/
# Linux only: the other platforms' native libraries, and libtorch's Python binding (TorchSharp
# never loads it), are left out.
RUN dotnet publish src/InferenceService -c Release -o /app -p:HardPairTorchBackend=${VARIANT} -p:UseAppHost=false \
 && rm -rf /app/runtimes/osx* /app/runtimes/win-* /app/runtimes/linux-x64/native/libtorch_python.so

FROM ${RUNTIME_IMAGE} AS runtime-cpu

# CUDA variant: the CUDA runtime libraries with the ASP.NET runtime copied in.
FROM ${CUDA_IMAGE} AS runtime-cuda
COPY --from=runtime-cpu /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet

FROM runtime-${VARIANT}
WORKDIR /app
COPY --from=build /app ./
COPY models/bootstrap/ /app/models/bootstrap/
# Non-root, no shell needed at run time; the pod mounts /data, /tmp and /cache writable.
USER 10001:10001
ENV ASPNETCORE_ENVIRONMENT=Production \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    HARDPAIR_NATIVE_CACHE=/cache \
    Checkpoints__SeedFrom=/app/models/bootstrap
EXPOSE 50051 50052 9464
ENTRYPOINT ["dotnet", "/app/HardPair.InferenceService.dll"]
