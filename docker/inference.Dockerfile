# The inference service. Build from the repository root:
#   docker build -f docker/inference.Dockerfile -t hardpair/inference:0.1.0 .
#   docker build -f docker/inference.Dockerfile --build-arg VARIANT=cuda -t hardpair/inference:0.1.0-cuda .
ARG VARIANT=cpu

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG VARIANT
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props HardPair.Services.sln ./
COPY protos/ protos/
COPY src/ src/
RUN dotnet publish src/InferenceService -c Release -o /app -p:HardPairTorchBackend=${VARIANT} -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime-cpu

# CUDA variant: the CUDA runtime libraries with the ASP.NET runtime copied in.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS runtime-cuda
COPY --from=mcr.microsoft.com/dotnet/aspnet:10.0 /usr/share/dotnet /usr/share/dotnet
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
