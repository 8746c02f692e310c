# Sourced by the image scripts: makes sure podman, runc and debootstrap (and what the pod test
# needs) are installed (as root or
# through sudo) and points podman at a containers.conf that works on these machines — the OCI
# runtime runc (crun refuses hybrid cgroups) and ulimits within the machine's hard limits
# (podman's default nofile of 1048576 is above them). Writes only under .local/podman/.
# python3-yaml and the Go packages: translating and rendering the chart for the pod test.
IMAGE_PACKAGES=(podman runc debootstrap python3-yaml
  golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)

sudo_prefix() {
  if [ "$(id -u)" -eq 0 ]; then
    return
  fi
  command -v sudo >/dev/null || { echo "images: need root or sudo for podman (rootful, as CI runs it)" >&2; exit 1; }
  echo sudo
}

missing=()
for package in "${IMAGE_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
SUDO=$(sudo_prefix)
if ((${#missing[@]})); then
  echo "images: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

mkdir -p .local/podman
nofile=$(ulimit -Hn)
[[ $nofile == unlimited || $nofile -gt 20000 ]] && nofile=20000
nproc=$(ulimit -Hu)
[[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
cat > .local/podman/containers.conf <<CONF
[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
CONF
export CONTAINERS_CONF=$PWD/.local/podman/containers.conf
PODMAN=($SUDO env CONTAINERS_CONF="$CONTAINERS_CONF" podman)
