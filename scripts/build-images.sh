#!/usr/bin/env bash
# Builds the two images with podman on this machine, without a registry:
#   bash scripts/build-images.sh            # cpu: hardpair/inference:TAG and hardpair/trainer:TAG
#   VARIANT=cuda bash scripts/build-images.sh
# The Dockerfiles are the same ones a registry build uses (docker build -f docker/… .); here their
# base-image arguments name local stand-ins (scripts/images/make-bases.sh): a debootstrap
# bookworm, with this machine's .NET runtime for the runtime stage and its SDK for the build
# stage. The build stage restores through this machine's NuGet package folder (mounted), so a
# machine that has built the solution fetches nothing; otherwise NuGet is the only source.
# Prints each image's size at the end. docs/IMAGES.md says what this does and does not verify.
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANT=${VARIANT:-cpu}
TAG=${TAG:-0.1.0}
suffix=""
[[ $VARIANT == cpu ]] || suffix="-$VARIANT"

bash scripts/images/make-bases.sh
source scripts/images/podman-env.sh
base=localhost/hardpair-base
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
mkdir -p "$packages"

args=(--network host --volume "$packages:/root/.nuget/packages"
  --build-arg VARIANT="$VARIANT"
  --build-arg SDK_IMAGE=$base/sdk:10.0
  --build-arg RUNTIME_IMAGE=$base/aspnet:10.0
  --build-arg DATA_IMAGE=$base/debian:12-slim
  # No CUDA runtime image is reachable here: the cuda variant gets the bookworm base instead, so
  # that its build goes as far as the missing CUDA packages allow (the TorchSharp CUDA restore).
  --build-arg CUDA_IMAGE=$base/aspnet:10.0)
for image in inference trainer; do
  echo "images: building hardpair/$image:$TAG$suffix"
  "${PODMAN[@]}" build "${args[@]}" -f "docker/$image.Dockerfile" -t "hardpair/$image:$TAG$suffix" .
done

"${PODMAN[@]}" image ls --filter "reference=hardpair/*:$TAG$suffix" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
