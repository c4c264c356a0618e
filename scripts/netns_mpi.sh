#!/usr/bin/env bash
# Two "hosts" on one machine: two network namespaces joined by a veth pair, one `vit train` rank in
# each, talking over Open MPI's TCP transport only (no shared memory between them), started without
# ssh: mpirun's remote-shell agent is a small launcher that runs the remote command with
# `ip netns exec`. Everything it creates is removed on exit (trap), whatever happens.
#
#   sudo scripts/netns_mpi.sh [VIT_BINARY] [DATA] [-- extra vit train flags]
#
# VIT_BINARY defaults to build/vit; DATA (any dataset `vit train` reads, at 32x32 for cifar-t) defaults
# to a generated folder of 2048 32x32 PNGs in 4 classes: one epoch of 16 steps of 128. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), iproute2 and Open MPI. Prints the
# run's epoch lines and the images/s of the two-host run.
set -euo pipefail
cd "$(dirname "$0")/.."

vit=$(realpath "${1:-build/vit}")
data=${2:-}
shift $(( $# >= 2 ? 2 : $# ))
[[ ${1:-} == -- ]] && shift
extra=("$@")

[[ -x $vit ]] || { echo "netns_mpi: no vit program at $vit (build first)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "netns_mpi: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
command -v ip >/dev/null || { echo "netns_mpi: ip not found (apt-get install iproute2)" >&2; exit 1; }

# Names unique to this run, so that several runs (or other users of the machine) do not collide;
# interface names have at most 15 characters.
tag=$$
ns_a=vitmpi-a-$tag ns_b=vitmpi-b-$tag
net=10.213.$(( tag % 250 )).0/24
ip_a=10.213.$(( tag % 250 )).1 ip_b=10.213.$(( tag % 250 )).2
work=$(mktemp -d /tmp/vit-netns.XXXXXX)

cleanup() {
    ip netns del "$ns_a" 2>/dev/null || true  # deleting a namespace deletes its end of the veth pair,
    ip netns del "$ns_b" 2>/dev/null || true  # and with it the other end
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "va$tag" type veth peer name "vb$tag"
ip link set "va$tag" netns "$ns_a"
ip link set "vb$tag" netns "$ns_b"
# The same interface name in both namespaces, so that one btl_tcp_if_include names it on every host.
for side in a b; do
    ns_var=ns_$side ip_var=ip_$side
    ns=${!ns_var}
    ip -n "$ns" link set "v$side$tag" name vit0
    ip -n "$ns" addr add "${!ip_var}/24" dev vit0
    ip -n "$ns" link set vit0 up
    ip -n "$ns" link set lo up
done
if command -v ping >/dev/null; then
    ip netns exec "$ns_a" ping -c 1 -W 2 "$ip_b" >/dev/null || { echo "netns_mpi: $ip_a cannot reach $ip_b" >&2; exit 1; }
fi
echo "netns_mpi: namespaces $ns_a ($ip_a) and $ns_b ($ip_b) joined by a veth pair"

# The remote-shell agent: mpirun calls it as `agent HOST COMMAND...` to start its daemon (orted) on
# HOST; here HOST is an address of one of the namespaces, and the command runs inside it.
cat >"$work/netns_agent.sh" <<EOF
#!/bin/sh
host=\$1; shift
case \$host in
  $ip_a) ns=$ns_a ;;
  $ip_b) ns=$ns_b ;;
  *) echo "netns_agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" sh -c "\$*"
EOF
chmod +x "$work/netns_agent.sh"
printf '%s slots=1\n%s slots=1\n' "$ip_a" "$ip_b" >"$work/hosts"

if [[ -z $data ]]; then
    echo "netns_mpi: generating 2048 training images" >&2
    python3 - "$work/data" <<'EOF'
import os, random, struct, sys, zlib
root = sys.argv[1]
def png(path, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
rng = random.Random(0)
for split, n in (("train", 512), ("test", 64)):
    for k in range(4):
        os.makedirs(f"{root}/{split}/c{k}", exist_ok=True)
        for i in range(n):
            rows = [[rng.randrange(60) + (180 if y // 8 == k else 0) for _ in range(32)] for y in range(32)]
            png(f"{root}/{split}/c{k}/{i}.png", rows)
EOF
    data=$work/data
fi

# One rank per namespace (--map-by node with one slot each), TCP between them and for mpirun's own
# control channel, both on vit0; no shared-memory transport.
cd "$work"
ip netns exec "$ns_a" mpirun --allow-run-as-root --hostfile "$work/hosts" -np 2 --map-by node --bind-to none \
    --mca plm_rsh_agent "$work/netns_agent.sh" --mca plm_rsh_no_tree_spawn 1 \
    --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include vit0 --mca oob_tcp_if_include vit0 \
    -x OMP_NUM_THREADS=1 -x PATH \
    "$vit" train --data "$(realpath "$data")" --model-config cifar-t --epochs 1 --batch 128 --threads 1 --workers 1 \
    --output "$work/run" "${extra[@]}" 2>&1 | tee "$work/log.txt"
status=${PIPESTATUS[0]}
[[ $status -eq 0 ]] || { echo "netns_mpi: the two-namespace run failed (status $status)" >&2; exit "$status"; }
ls "$work/run/last.safetensors" >/dev/null
echo "netns_mpi: trained across two namespaces over TCP; checkpoint written; cleaning up"
