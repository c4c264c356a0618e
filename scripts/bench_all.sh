#!/usr/bin/env bash
# Issue 9's benchmark, in one run on one machine: our `vit bench` in every dtype it accepts (f32, bf16,
# and int8 once `vit bench --dtype int8` exists), ONNX Runtime f32 (npm's onnxruntime-node on the
# PyTorch anchor's ONNX export, ../shared/anchor/ort_export.py + ort_bench.js) and the PyTorch anchor
# (../shared/anchor/bench_infer.py, bench_train.py), alternating case by case; oneDNN's own matmul
# peak (build/vit_matmul_peak, 6304x768x3072) and the hardware's f32 multiply-add ceiling
# (build/vit_fma_peak) at the start of every round; peak RSS of every command
# (/usr/bin/time -v); the kernels oneDNN chose (ONEDNN_VERBOSE). Where int8 runs, ONNX Runtime int8 too:
# our `vit export --format onnx --dtype int8` of the same configuration. Writes the results section of
# docs/BENCHMARKS.md for this CPU kind (between the bench_all markers named by the instruction set
# oneDNN uses, so an AVX2 run and an AVX-512 run keep a section each) and keeps the raw JSON lines
# beside it. Under ONEDNN_MAX_CPU_ISA (e.g. AVX2) our side runs capped, ONNX Runtime and PyTorch do not:
# the section says so.
#
#   scripts/bench_all.sh [ROUNDS] [REPS] [THREADS]    defaults 3 10 2; `1 2` is a short run
#   env: BUILD_DIR (build), OUT (docs/BENCHMARKS.md), CASES (regex on "config/batch/mode" to run a subset),
#        LIMIT_S (seconds one measurement may take, 0 = none: past it the cell reads "-" and the run goes
#        on; for short runs on a loaded machine, where one PyTorch vit_base batch 32 can take minutes),
#        PYTORCH (1; 0 leaves the PyTorch anchor out, and its set-up)
#
# Every figure is the median over the rounds; ratios are the median of the per-round ratios (each
# round runs the engines back to back, so a shared machine's load moves both sides of a ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
reps=${2:-10}
threads=${3:-2}
build=${BUILD_DIR:-build}
out=${OUT:-docs/BENCHMARKS.md}
cases_filter=${CASES:-.}
limit_s=${LIMIT_S:-0}
anchor=../shared/anchor
python=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3)  # the anchor's fair OpenBLAS set-up

[[ -d $anchor ]] || { echo "bench_all: $anchor not found (the shared anchor scripts)" >&2; exit 1; }
# The anchor's set-up (../shared/anchor/README.md): Debian's PyTorch on OpenBLAS. Without
# libopenblas0-pthread it runs on the reference BLAS, 20-40x slower (vit_tiny batch 1: 1.2 img/s against
# 25), which would flatter every ratio to PyTorch. /usr/bin/time measures peak memory.
pytorch=${PYTORCH:-1}
if [[ $pytorch == 1 ]]; then
    VIT_EXTRA_PACKAGES="time libopenblas0-pthread python3-torch" VIT_BUILD_TARGETS=all scripts/setup.sh >&2
    blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)
    [[ $blas == *openblas* ]] || { echo "bench_all: PyTorch would run on $blas, not OpenBLAS" >&2; exit 1; }
else
    VIT_EXTRA_PACKAGES="time" VIT_BUILD_TARGETS=all scripts/setup.sh >&2
    blas="(not run)"
fi
[[ $build == build ]] || cmake --build "$build" -j2 --target vit vit_matmul_peak vit_fma_peak >&2
# The CPU kind this run measures: oneDNN's instruction set, capped by ONEDNN_MAX_CPU_ISA if set.
kind=$("$build/vit" info --format json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["isa"])')
scripts/install_onnxruntime.sh
export NODE_PATH=$PWD/.cache/onnxruntime-node/node_modules OMP_NUM_THREADS=$threads

# Cases: config, batch, mode (infer | train).
all_cases=("vit_tiny_patch16_224 1 infer" "vit_tiny_patch16_224 32 infer" "vit_small_patch16_224 1 infer"
    "vit_small_patch16_224 32 infer" "vit_base_patch16_224 1 infer" "vit_base_patch16_224 32 infer"
    "cifar-t 128 infer" "cifar-t 128 train" "fmnist-t 128 infer")
cases=()
for c in "${all_cases[@]}"; do
    set -- $c
    [[ "$1/$2/$3" =~ $cases_filter ]] && cases+=("$c")
done
[[ ${#cases[@]} -gt 0 ]] || { echo "bench_all: CASES='$cases_filter' matches no case" >&2; exit 1; }

# The dtypes this CPU runs (a refused one exits 2: `vit info`).
dtypes=(f32)
for d in bf16 int8; do
    if "$build/vit" bench -q --model-config fmnist-t --batch 1 --reps 1 --dtype "$d" >/dev/null 2>&1; then dtypes+=("$d"); fi
done

# The hardware's f32 multiply-add ceiling (bench/fma_peak.cpp), where the CPU has AVX-512.
fma=0
if "$build/vit_fma_peak" 1 1 >/dev/null 2>&1; then fma=1; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
raw=${out%.md}.bench_all.$kind.jsonl  # every measurement, one JSON line each, per CPU kind
: >"$raw"

# ONNX files of the anchor's ViT for the inference configurations.
onnx_configs=()
for c in "${cases[@]}"; do
    set -- $c
    [[ $3 == infer && ! " ${onnx_configs[*]:-} " =~ " $1 " ]] && onnx_configs+=("$1")
done
if [[ $pytorch == 1 ]]; then
    (cd "$anchor" && "${python[@]}" ort_export.py "$work" "${onnx_configs[@]}") >/dev/null 2>&1 ||
        { echo "bench_all: ort_export.py failed" >&2; exit 1; }
else  # the same graph, written by our own exporter (random weights, as the anchor's)
    for config in "${onnx_configs[@]}"; do
        "$build/vit" init -q --model-config "$config" --output "$work/$config.safetensors"
        "$build/vit" export -q --model "$work/$config.safetensors" --format onnx --output "$work/$config.onnx"
    done
fi
# ONNX Runtime int8: our int8 export of the same configuration (onnx_export.hpp).
if [[ " ${dtypes[*]} " == *" int8 "* ]]; then
    for config in "${onnx_configs[@]}"; do
        [[ -f $work/$config.safetensors ]] ||
            "$build/vit" init -q --model-config "$config" --output "$work/$config.safetensors"
        "$build/vit" export -q --model "$work/$config.safetensors" --format onnx --dtype int8 \
            --output "$work/$config-int8.onnx"
    done
fi

# Runs a command under /usr/bin/time -v and appends its last JSON line to the raw file, tagged with the
# round, engine, dtype, case and peak RSS.
record() {  # ROUND ENGINE DTYPE CONFIG BATCH MODE -- COMMAND...
    local round=$1 engine=$2 dtype=$3 config=$4 batch=$5 mode=$6
    shift 7
    local line rss status=0
    line=$(timeout "$limit_s" /usr/bin/time -v -o "$work/time" "$@" 2>"$work/err" | tail -n 1) || status=$?
    if [[ $status == 124 ]]; then
        echo "  $engine $dtype: over LIMIT_S=$limit_s s, not recorded" >&2
        echo "$round $engine $dtype $config $batch $mode" >>"$work/over_limit"
        return 0
    fi
    if [[ $status != 0 ]]; then
        echo "bench_all: failed: $*" >&2
        cat "$work/err" >&2
        return 1
    fi
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$work/time")
    "${python[@]}" -c 'import json, sys
d = json.loads(sys.argv[1])
d.update(round=int(sys.argv[2]), engine=sys.argv[3], dtype=sys.argv[4], case_config=sys.argv[5],
         case_batch=int(sys.argv[6]), case_mode=sys.argv[7], rss_kb=int(sys.argv[8]), load=sys.argv[9])
print(json.dumps(d))' "$line" "$round" "$engine" "$dtype" "$config" "$batch" "$mode" "$rss" \
        "$(cut -d' ' -f1 /proc/loadavg)" >>"$raw"
    echo "  $engine $dtype: $line" >&2
}

size_of() { "${python[@]}" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c.get("in_chans",3), c["img_size"])' \
    "models/configs/$1.json"; }

started=$(date -u '+%Y-%m-%d %H:%M UTC')
uptime_start=$(uptime)
for ((r = 1; r <= rounds; ++r)); do
    echo "# round $r of $rounds ($(uptime))" >&2
    for d in "${dtypes[@]}"; do
        record "$r" matmul_peak "$d" matmul 6304 peak -- "$build/vit_matmul_peak" 6304 768 3072 "$reps" "$d"
    done
    if [[ $fma == 1 ]]; then
        record "$r" fma_peak f32 fma 0 peak -- "$build/vit_fma_peak" "$threads" 3
    fi
    for c in "${cases[@]}"; do
        set -- $c
        config=$1 batch=$2 mode=$3
        echo "$config batch $batch $mode" >&2
        train_flag=()
        [[ $mode == train ]] && train_flag=(--train)
        for d in "${dtypes[@]}"; do
            [[ $mode == train && $d == int8 ]] && continue
            record "$r" vit "$d" "$config" "$batch" "$mode" -- "$build/vit" bench -q --model-config "$config" \
                --batch "$batch" --threads "$threads" --reps "$reps" --dtype "$d" "${train_flag[@]}"
        done
        if [[ $mode == infer ]]; then
            read -r chans size < <(size_of "$config")
            if [[ $pytorch == 1 ]]; then  # the anchor's export, whose input is named "input"
                record "$r" onnxruntime f32 "$config" "$batch" "$mode" -- node "$anchor/ort_bench.js" \
                    "$work/$config.onnx" "$chans" "$size" "$batch" "$threads" "$reps"
            else  # ours, whose input is "pixel_values": the same timing, by tests/onnx/bench_ort.js
                record "$r" onnxruntime f32 "$config" "$batch" "$mode" -- node tests/onnx/bench_ort.js \
                    "$work/$config.onnx" "$chans" "$size" "$size" "$batch" "$threads" "$reps"
            fi
            if [[ -f $work/$config-int8.onnx ]]; then
                record "$r" onnxruntime int8 "$config" "$batch" "$mode" -- node tests/onnx/bench_ort.js \
                    "$work/$config-int8.onnx" "$chans" "$size" "$size" "$batch" "$threads" "$reps"
            fi
            [[ $pytorch == 1 ]] && record "$r" pytorch f32 "$config" "$batch" "$mode" -- "${python[@]}" \
                "$anchor/bench_infer.py" "$config" "$batch" "$threads" "$reps"
        elif [[ $pytorch == 1 ]]; then
            record "$r" pytorch f32 "$config" "$batch" "$mode" -- "${python[@]}" "$anchor/bench_train.py" \
                "$config" "$batch" "$threads" "$reps"
        fi
    done
done
uptime_end=$(uptime)

# The kernels oneDNN chose: one verbose forward (or training step) per dtype and mode, exec lines
# counted by primitive, implementation and data types.
verbose=$work/verbose.txt
: >"$verbose"
for d in "${dtypes[@]}"; do
    for spec in "vit_base_patch16_224 32 infer" "cifar-t 128 train"; do
        set -- $spec
        [[ $3 == train && $d == int8 ]] && continue
        train_flag=()
        [[ $3 == train ]] && train_flag=(--train)
        ONEDNN_VERBOSE=1 "$build/vit" bench -q --model-config "$1" --batch "$2" --threads "$threads" --reps 1 \
            --dtype "$d" "${train_flag[@]}" 2>/dev/null | grep '^onednn_verbose,exec' |
            awk -F, -v tag="$1 b$2 $3 $d" '{
                # field 7 lists the memory descriptors, "src_f32::blocked:ab:f0 wei_bf16:..."; keep arg_type
                n = split($7, md, " "); types = ""
                for (i = 1; i <= n; ++i) { sub(/:.*/, "", md[i]); types = types (i > 1 ? " " : "") md[i] }
                print tag "\t" $4 "\t" $5 "\t" types }' >>"$verbose" || true
    done
done

versions=$(
    echo "oneDNN $(dpkg-query -W -f='${Version}' libdnnl2 2>/dev/null || echo '?') (Debian libdnnl2)"
    echo "onnxruntime-node $(node -p "require('onnxruntime-node/package.json').version")"
    [[ $pytorch == 1 ]] && echo "PyTorch $("${python[@]}" -c 'import torch; print(torch.__version__)') (Debian python3-torch, BLAS $blas)"
    echo "$(c++ --version | head -n 1)"
    echo "OpenCV $(pkg-config --modversion opencv4 2>/dev/null || echo '?'), node $(node --version)"
)
machine=$(
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs online ($(lscpu | sed -n 's/^Core(s) per socket: *//p') cores per socket, $(lscpu | sed -n 's/^Thread(s) per core: *//p') threads per core)"
    echo "ISA flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|avx512_vnni|avx_vnni|amx_bf16|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    if [[ -n ${ONEDNN_MAX_CPU_ISA:-} ]]; then
        echo "our side capped by ONEDNN_MAX_CPU_ISA=$ONEDNN_MAX_CPU_ISA (oneDNN runs $kind; our own loops follow), ONNX Runtime and PyTorch on the whole CPU (they have no such cap)"
    else
        echo "oneDNN runs $kind"
    fi
)

"${python[@]}" - "$raw" "$out" "$verbose" "$rounds" "$reps" "$threads" "$started" "$uptime_start" "$uptime_end" \
    "$versions" "$machine" "$limit_s" "$work/over_limit" "$kind" <<'PY'
import collections, json, statistics, sys
raw, out, verbose, rounds, reps, threads, started, up0, up1, versions, machine, limit_s, over_limit, kind = sys.argv[1:]
over = [l.split() for l in open(over_limit)] if __import__("os").path.exists(over_limit) else []
rows = [json.loads(l) for l in open(raw)]

def flops(config, mode):
    """Multiply-adds x 2 of one image: patch embedding, blocks (qkv, Q Kt, A V, proj, MLP), head;
    a training step counts 3x the forward (forward, dx, dW)."""
    c = json.load(open(f"models/configs/{config}.json"))
    C, S, p, D = c.get("in_chans", 3), c["img_size"], c["patch_size"], c["embed_dim"]
    P = (S // p) ** 2
    T, Hm, K = P + 1, int(D * c.get("mlp_ratio", 4.0)), c["num_classes"]
    f = 2 * P * C * p * p * D + c["depth"] * (2 * T * D * 3 * D + 4 * T * T * D + 2 * T * D * D + 4 * T * D * Hm) + 2 * D * K
    return f * (3 if mode == "train" else 1)

med = statistics.median
peak = {d: med([r["gflops"] for r in rows if r["engine"] == "matmul_peak" and r["dtype"] == d])
        for d in {r["dtype"] for r in rows if r["engine"] == "matmul_peak"}}
peak_impl = {r["dtype"]: r["impl"] for r in rows if r["engine"] == "matmul_peak"}
fma_rates = [r["gflops"] for r in rows if r["engine"] == "fma_peak"]
fma = med(fma_rates) if fma_rates else None
peaks = ("matmul_peak", "fma_peak")
by = collections.defaultdict(list)  # (config, batch, mode, engine, dtype) -> rows
for r in rows:
    if r["engine"] not in peaks:
        by[(r["case_config"], r["case_batch"], r["case_mode"], r["engine"], r["dtype"])].append(r)
cases = list(dict.fromkeys((r["case_config"], r["case_batch"], r["case_mode"]) for r in rows if r["engine"] not in peaks))
dtypes = [d for d in ("f32", "bf16", "int8") if any(k[3] == "vit" and k[4] == d for k in by)]

def ips(case, engine, dtype):
    rs = by.get(case + (engine, dtype), [])
    return med([r["img_per_s"] for r in rs]) if rs else None

def ratio(case, dtype, engine, peer_dtype="f32"):
    """Median over rounds of ours / peer, each round's pair measured back to back."""
    ours = {r["round"]: r["img_per_s"] for r in by.get(case + ("vit", dtype), [])}
    theirs = {r["round"]: r["img_per_s"] for r in by.get(case + (engine, peer_dtype), [])}
    rs = [ours[k] / theirs[k] for k in ours if k in theirs and theirs[k] > 0]
    return med(rs) if rs else None

fmt = lambda v, spec="{:.2f}": "-" if v is None else spec.format(v)
L = []
begin_marker, end_marker = f"<!-- bench_all:begin {kind} ", f"<!-- bench_all:end {kind} -->"
L.append(begin_marker + "(written by scripts/bench_all.sh; edit the script, not this section) -->")
L.append(f"## Results of `scripts/bench_all.sh` on {kind}")
L.append("")
L.append(f"Run {started}: `scripts/bench_all.sh {rounds} {reps} {threads}` ({rounds} round(s), {reps} timed "
         f"repetitions per measurement, {threads} threads). Load (`uptime`) at the start: `{up0.strip()}`; "
         f"at the end: `{up1.strip()}`. The machine is shared: read the ratios (each round measures the "
         "engines back to back), not the absolute img/s. Raw JSON lines: "
         f"`{raw.split('/')[-1]}` beside this file.")
L.append("")
L.append("Machine: " + machine.replace("\n", "; ") + ".")
L.append("")
L.append("Libraries: " + "; ".join(versions.splitlines()) + ".")
L.append("")
if over:
    L.append(f"Not measured (over LIMIT_S={limit_s} s, cells read \"-\"): " + "; ".join(
        f"{e} {d} {c} b{b} {m} (round {r})" for r, e, d, c, b, m in over) + ".")
    L.append("")
L.append("### oneDNN's matmul peak (6304 x 768 x 3072, packed weights, median over rounds)")
L.append("")
L.append("| dtype | GFLOP/s | kernel |")
L.append("|---|---|---|")
for d in sorted(peak):
    L.append(f"| {d} | {peak[d]:.1f} | `{peak_impl[d]}` |")
L.append("")
if fma:
    L.append(f"The hardware's own f32 ceiling in the same run (`vit_fma_peak {threads}`: independent AVX-512 "
             f"multiply-add chains in registers, no memory): **{fma:.1f} GFLOP/s**, so oneDNN's best f32 "
             f"product reaches {peak.get('f32', 0) / fma:.0%} of it. The \"f32 of FMA\" column below reads the "
             "models against this ceiling: no f32 engine, ONNX Runtime's included, can pass 100%.")
    L.append("")
L.append("### img/s and ratios")
L.append("")
L.append("ORT: ONNX Runtime f32 on the anchor's ONNX export (with PYTORCH=0 on ours, the same graph); ORT int8: "
         "ONNX Runtime on our int8 export of the same configuration; PyTorch: the anchor's eager f32 model. "
         "\"of peak\": the model's GFLOP/s (forward multiply-adds x 2; training 3x) over the matmul peak "
         "of the same dtype (int8 against the bf16 peak, or its own where bf16 does not run).")
L.append("")
ort_int8 = "int8" in dtypes
head = "| case |" + "".join(f" vit {d} |" for d in dtypes) + " ORT |" + (" ORT int8 |" if ort_int8 else "") + \
       " PyTorch |" + "".join(f" {d} / ORT |" for d in dtypes) + (" int8 / ORT int8 |" if ort_int8 else "") + \
       "".join(f" {d} / PyTorch |" for d in dtypes) + \
       "".join(f" {d} of peak |" for d in dtypes) + (" f32 of FMA | ORT of FMA |" if fma else "") + " bf16 / f32 |"
L.append(head)
L.append("|" + "---|" * (head.count("|") - 1))
for case in cases:
    config, batch, mode = case
    cells = [f"{config} b{batch} {mode}"]
    cells += [fmt(ips(case, "vit", d)) for d in dtypes]
    cells += [fmt(ips(case, "onnxruntime", "f32"))] + ([fmt(ips(case, "onnxruntime", "int8"))] if ort_int8 else [])
    cells += [fmt(ips(case, "pytorch", "f32"))]
    cells += [fmt(ratio(case, d, "onnxruntime"), "{:.2f}x") for d in dtypes]
    if ort_int8:
        cells.append(fmt(ratio(case, "int8", "onnxruntime", "int8"), "{:.2f}x"))
    cells += [fmt(ratio(case, d, "pytorch"), "{:.2f}x") for d in dtypes]
    for d in dtypes:
        v, pk = ips(case, "vit", d), peak.get("bf16" if d == "int8" and "bf16" in peak else d)
        cells.append(fmt(None if v is None or not pk else v * flops(config, mode) / 1e9 / pk, "{:.0%}"))
    if fma:
        for e in ("vit", "onnxruntime"):
            v = ips(case, e, "f32")
            cells.append(fmt(None if v is None else v * flops(config, mode) / 1e9 / fma, "{:.0%}"))
    ours32 = {r["round"]: r["img_per_s"] for r in by.get(case + ("vit", "f32"), [])}
    ours16 = {r["round"]: r["img_per_s"] for r in by.get(case + ("vit", "bf16"), [])}
    rs = [ours16[k] / ours32[k] for k in ours16 if k in ours32]
    cells.append(fmt(med(rs) if rs else None, "{:.2f}x"))
    L.append("| " + " | ".join(cells) + " |")
L.append("")
L.append("### Peak resident memory (MiB, `/usr/bin/time -v`, largest over rounds; the whole process)")
L.append("")
engines = [("vit", d) for d in dtypes] + [("onnxruntime", "f32")] + ([("onnxruntime", "int8")] if ort_int8 else []) + \
          [("pytorch", "f32")]
head = "| case |" + "".join(f" {'ORT' if e == 'onnxruntime' else e} {d} |" for e, d in engines)
L.append(head)
L.append("|" + "---|" * (head.count("|") - 1))
for case in cases:
    cells = [f"{case[0]} b{case[1]} {case[2]}"]
    for e, d in engines:
        rs = by.get(case + (e, d), [])
        cells.append(fmt(max(r["rss_kb"] for r in rs) / 1024 if rs else None, "{:.0f}"))
    L.append("| " + " | ".join(cells) + " |")
L.append("")
L.append("### Kernels oneDNN chose (`ONEDNN_VERBOSE=1`, one warm-up + one timed pass; exec lines counted)")
L.append("")
L.append("| run | primitive | implementation | data types | calls |")
L.append("|---|---|---|---|---|")
counts = collections.Counter(tuple(l.rstrip("\n").split("\t")) for l in open(verbose) if l.strip())
for (run, prim, impl, types), n in sorted(counts.items()):
    L.append(f"| {run} | {prim} | `{impl}` | `{types}` | {n} |")
L.append(end_marker)
section = "\n".join(L) + "\n"

text = open(out).read() if __import__("os").path.exists(out) else "# Benchmarks\n\n"
begin, end = text.find(begin_marker), text.find(end_marker)
if begin >= 0 and end >= 0:
    text = text[:begin] + section + text[end + len(end_marker + "\n"):]
else:  # first run on this CPU kind: before the other kinds' sections, else after the title and its paragraph
    other = text.find("<!-- bench_all:begin ")
    first = other - 1 if other > 0 else text.find("\n## ")
    text = text + "\n" + section if first < 0 else text[:first + 1] + section + "\n" + text[first + 1:]
open(out, "w").write(text)
print(f"bench_all: wrote {out} and {raw}", file=sys.stderr)
PY
