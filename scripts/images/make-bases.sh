#!/usr/bin/env bash
# Makes the local stand-ins for the public base images the Dockerfiles name, so that they build
# with no registry (nothing comes from outside the Debian and NuGet registries):
#   localhost/hardpair-base/debian:12-slim  a debootstrap bookworm (minbase) from the machine's
#                                           own Debian mirror, with the libraries .NET needs
#   localhost/hardpair-base/aspnet:10.0     that, plus this machine's .NET and ASP.NET Core runtimes
#   localhost/hardpair-base/sdk:10.0        that, plus this machine's whole .NET SDK
# An image already there is kept (REBUILD=1 makes them again).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/images/podman-env.sh

base=localhost/hardpair-base
have() { "${PODMAN[@]}" image exists "$1"; }
if [[ ${REBUILD:-0} != 1 ]] && have "$base/debian:12-slim" && have "$base/aspnet:10.0" && have "$base/sdk:10.0"; then
  echo "images: local base images present (REBUILD=1 to make them again)"
  exit 0
fi

# The first Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 | awk '{print $2}')
[[ -n $mirror ]] || mirror=$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | head -n 1 | awk '{print $2}')
mirror=${mirror:-http://deb.debian.org/debian}

dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
[[ -d $dotnet_root/shared/Microsoft.AspNetCore.App ]] || { echo "images: no ASP.NET Core runtime under $dotnet_root" >&2; exit 1; }

work=$PWD/.local/podman/bases
$SUDO rm -rf "$work"
mkdir -p "$work"
rootfs=$work/rootfs
# What the official runtime images carry besides libc: certificates, ICU, OpenSSL, time zones,
# zlib; libgomp for libtorch's OpenMP.
echo "images: debootstrap bookworm from $mirror"
$SUDO debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,tzdata,zlib1g,libgomp1 \
  bookworm "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
$SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

# /usr/bin/dotnet, as the official images have it.
mkdir -p "$work/link/usr/bin"
ln -sf /usr/share/dotnet/dotnet "$work/link/usr/bin/dotnet"

# The build stage reaches NuGet through this machine's network, whose egress may re-sign TLS with
# a local authority: the SDK image (only it) trusts what this machine trusts.
sdk_rootfs=$work/sdk-rootfs
$SUDO cp -a "$rootfs" "$sdk_rootfs"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  $SUDO cp /usr/local/share/ca-certificates/*.crt "$sdk_rootfs/usr/local/share/ca-certificates/"
  $SUDO chroot "$sdk_rootfs" update-ca-certificates >/dev/null 2>&1
fi

import() {
  local name=$1 root=$2; shift 2
  # tar -C DIR . for the root file system, then further -C DIR PATH pairs for what lands on it;
  # /usr/share/dotnet is copied from this machine's .NET (the transform renames it into place).
  $SUDO tar -c --transform 's,^dotnet,usr/share/dotnet,' -C "$root" . "$@" \
    | "${PODMAN[@]}" import --quiet --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1' - "$name" >/dev/null
  echo "images: made $name"
}
runtime=(-C "$dotnet_root/.." dotnet/dotnet dotnet/host dotnet/shared dotnet/LICENSE.txt -C "$work/link" usr/bin/dotnet)
import "$base/debian:12-slim" "$rootfs"
import "$base/aspnet:10.0" "$rootfs" "${runtime[@]}"
import "$base/sdk:10.0" "$sdk_rootfs" -C "$dotnet_root/.." dotnet -C "$work/link" usr/bin/dotnet
$SUDO rm -rf "$work"
# The images these replaced, now untagged.
"${PODMAN[@]}" image prune -f >/dev/null
