#!/usr/bin/env bash
# Assembles the run stage's whole file system from the machine it runs on
# (the build stage): the three executables, iptables for the capture
# container, every shared library these load as this machine's loader finds
# them, iptables' extensions, and a passwd and group naming uid 1337. No
# shell, no package manager, nothing else.
#
#   docker/rootfs.sh BIN_DIR ROOT
set -euo pipefail
bin=${1:?usage: docker/rootfs.sh BIN_DIR ROOT}
root=${2:?usage: docker/rootfs.sh BIN_DIR ROOT}

rm -rf "$root"
# Debian's merged /usr: the loader is /lib64/ld-linux-x86-64.so.2 and ldd
# names /lib/... paths, both links into /usr as on the build machine.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64,local/bin} "$root"/{etc,run,tmp}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
chmod 1777 "$root/tmp"

install -m 0755 "$bin/laneproxy" "$bin/laneproxy-mock" "$bin/laneproxy-bench" "$root/usr/local/bin/"

# iptables is one multi-call binary; capture runs it as iptables and
# iptables-restore. The nf_tables back end needs no lock file, so it works
# on a read-only root.
xtables=$(readlink -f /usr/sbin/iptables-nft)
install -m 0755 "$xtables" "$root/usr/sbin/"
for name in iptables iptables-restore iptables-save; do
  ln -s "$(basename "$xtables")" "$root/usr/sbin/$name"
done
extensions=$(dirname "$(find /usr/lib -path '*/xtables/libxt_REDIRECT.so' | head -1)")
mkdir -p "$root$extensions"
cp -a "$extensions/." "$root$extensions/"

# Every library the executables and the extensions load, at the path the
# loader resolved it to here, with its link target's bytes.
objects=("$root"/usr/local/bin/* "$root/usr/sbin/$(basename "$xtables")" "$root$extensions"/*.so)
for object in "${objects[@]}"; do
  ldd "$object" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && NF == 2 {print $1}'
done | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

printf 'root:x:0:0:root:/:/usr/sbin/nologin\nlaneproxy:x:1337:1337:laneproxy:/:/usr/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nlaneproxy:x:1337:\n' >"$root/etc/group"
