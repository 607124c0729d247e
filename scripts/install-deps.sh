#!/usr/bin/env bash
# install-deps.sh - install the Debian 12 packages caskfs needs to build and
# test; with --bench also the systems the benchmarks compare against; and
# /etc/mtab where a bare root lacks it (fusermount3 needs it for users).
# Idempotent: asks dpkg what is installed and touches apt only when
# something is missing. Non-interactive; needs root (or sudo).
#
# usage: scripts/install-deps.sh [--bench]
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang libclang-rt-14-dev
	libfuse3-dev fuse3 liburing-dev libssl-dev libcmocka-dev
	attr rsync sqlite3 # used by the fuse tests
	llvm               # llvm-symbolizer: readable clang sanitizer reports
	clang-format git   # the formatting check of scripts/test.sh
)
bench_packages=(
	liblmdb-dev libleveldb-dev librocksdb-dev libkyotocabinet-dev
	libisal-dev # bench/crc_bench: ISA-L's CRC32C, measured against ours
	bindfs fuse-overlayfs dbench fio
)

for arg in "$@"; do
	case $arg in
	--bench) packages+=("${bench_packages[@]}") ;;
	-h | --help)
		sed -n '2,8s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*)
		echo "install-deps: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

# as_root WHAT: set sudo to what runs a command as root, or fail naming
# WHAT needed it.
sudo=()
as_root() {
	if ((EUID != 0)); then
		if command -v sudo >/dev/null; then
			sudo=(sudo)
		else
			echo "install-deps: need root to $1" >&2
			exit 1
		fi
	fi
}

# fusermount3 reads /etc/mtab when an ordinary user mounts or unmounts
# ("failed to open /etc/mtab" otherwise). A booted Debian has it (systemd
# links it to /proc/self/mounts at boot); a debootstrap root or a container
# may not.
if [[ ! -e /etc/mtab && ! -L /etc/mtab ]]; then
	as_root "create /etc/mtab"
	echo "install-deps: /etc/mtab is missing; linking it to ../proc/self/mounts"
	"${sudo[@]}" ln -s ../proc/self/mounts /etc/mtab
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

as_root "install: ${missing[*]}"

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o Acquire::Retries=3 -o Dpkg::Use-Pty=0)
"${sudo[@]}" apt-get "${apt_opts[@]}" update
"${sudo[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends \
	"${missing[@]}"
