#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages this project builds and tests with.
# Run as root (or through sudo). Safe to run again.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	libibverbs-dev      # verbs + mlx5dv headers we compile against (rdma-core)
	ibverbs-utils       # ibv_devinfo, ibv_rc_pingpong: conformance checks of softroce
	libhwloc-dev        # PCIe link attributes of each HCA
	libcriterion-dev    # unit and integration tests
	python3             # bench report formatting
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root: sudo $0" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" "$@"
