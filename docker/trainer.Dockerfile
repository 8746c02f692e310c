# The trainer sidecar (and the offline train / evaluate commands). Build from the repository root:
#   docker build -f docker/trainer.Dockerfile -t hardpair/trainer:0.1.0 .
#   docker build -f docker/trainer.Dockerfile --build-arg VARIANT=cuda -t hardpair/trainer:0.1.0-cuda .
# The base images are build arguments; their defaults are the public ones. Without a registry,
# scripts/build-images.sh passes local stand-ins it makes (docs/IMAGES.md).
ARG VARIANT=cpu
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG DATA_IMAGE=debian:12-slim

FROM ${SDK_IMAGE} AS build
ARG VARIANT
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props HardPair.Services.sln ./
COPY protos/ protos/
COPY src/ src/
# Linux only: the other platforms' native libraries, and libtorch's Python binding (TorchSharp
# never loads it), are left out.
RUN dotnet publish src/TrainerSidecar -c Release -o /app -p:HardPairTorchBackend=${VARIANT} -p:UseAppHost=false \
 && rm -rf /app/runtimes/osx* /app/runtimes/win-* /app/runtimes/linux-x64/native/libtorch_python.so

# Fashion-MNIST from the Debian package the project uses everywhere else.
FROM ${DATA_IMAGE} AS data
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist && rm -rf /var/lib/apt/lists/*

FROM ${RUNTIME_IMAGE} AS runtime-cpu

FROM ${CUDA_IMAGE} AS runtime-cuda
COPY --from=runtime-cpu /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet

FROM runtime-${VARIANT}
WORKDIR /app
COPY --from=build /app ./
COPY --from=data /usr/share/datasets/fashion-mnist/ /usr/share/datasets/fashion-mnist/
# The bootstrap checkpoint the inference image seeds the store with: trusted unsigned here too, so
# that with an ECDSA key (the inference side cannot sign the copy) runs fine-tune from it.
COPY models/bootstrap/ /app/models/bootstrap/
USER 10001:10001
ENV ASPNETCORE_ENVIRONMENT=Production \
    Checkpoints__SeedFrom=/app/models/bootstrap \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    HARDPAIR_NATIVE_CACHE=/cache
EXPOSE 50061 9465
ENTRYPOINT ["dotnet", "/app/HardPair.TrainerSidecar.dll"]
