#!/usr/bin/env bash
# One entry point: build, run under QEMU or real Xen, test.
#   ./run.sh demo              boot the appliance on real Xen (inside QEMU) and show it working
#   ./run.sh test              host tests + QEMU boot test + real-Xen tests
#   ./run.sh build             build/appliance.elf
#   ./run.sh qemu [args]       boot under plain QEMU (no Xen: it says so and powers off)
#   ./run.sh xen [scenario]    real-Xen harness run (default scenario: boot)
#   ./run.sh seed --key FILE [--user-data F] [--network-config F] [--out F]
#                              a NoCloud seed disk (vfat, label cidata; default build/seed.img)
#   ./run.sh xl [cfg]          on a real Xen host: xl create -c with harness/appliance.cfg (and
#                              build/seed.img, or SEED=path, as its read-only xvdb)
#   ./run.sh image             build/appliance.img: the bootable disk image (CMDLINE=... sets the command line)
#   ./run.sh ami [--run]       the EC2 import-snapshot / register-image steps for that image (--run: do them)
#   ./run.sh bench [micro|xen] micro-benchmarks (busdma load/unload, target/criterion) and the real-Xen
#                              bench beside a Linux PVH guest (build/bench/report.md); default both
#   ./run.sh bench density     fleets of appliances and of Linux guests on one host (build/bench-density/report.md)
#   ./run.sh fuzz [SECONDS]    every cargo-fuzz target for SECONDS each (default 60)
#   ./run.sh deps              install what the build and the harness need
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$ROOT/build
ELF=$BUILD/appliance.elf
IMG=$BUILD/appliance.img
TARGET=x86_64-unknown-none

log() { printf '%s\n' "run.sh: $*" >&2; }

deps() {
    if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
        rustup target add "$TARGET"
    fi
    bash "$ROOT/harness/install-deps.sh"
}

build() {
    rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"
    (cd "$ROOT" && cargo build -q --release -p kernel --target "$TARGET")
    mkdir -p "$BUILD"
    cp "$ROOT/target/$TARGET/release/appliance" "$ELF"
    local size
    size=$(stat -c %s "$ELF")
    log "built $ELF ($size bytes)"
}

# Plain QEMU: TCG (KVM here is nested PVM and unreliable); the PVH note is
# what QEMU's -kernel uses. COM1 goes to stdout.
qemu() {
    build
    command -v qemu-system-x86_64 >/dev/null || deps
    timeout 60 qemu-system-x86_64 -accel tcg -M q35 -cpu max -m 128 \
        -nographic -no-reboot -serial stdio -monitor none -display none \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -kernel "$ELF" "$@" || true
}

xen() {
    build
    local scenario=${1:-boot}
    shift || true
    local extra=()
    if [ "$scenario" = hvm ]; then
        image >/dev/null
        extra=(--extra "$IMG")
    fi
    bash "$ROOT/harness/run-xen.sh" --guest "$ELF" "${extra[@]}" \
        --scenario "$ROOT/harness/scenarios/$scenario.sh" --out "$BUILD/xen-$scenario" "$@"
}

# The EC2-style machine image: a raw disk (MBR, GRUB, FAT partition with the
# kernel and grub.cfg). CMDLINE= sets the kernel command line in it.
image() {
    build
    command -v grub-mkimage >/dev/null && command -v mformat >/dev/null || deps
    bash "$ROOT/image/mkimage.sh" "$ELF" "$IMG" "${CMDLINE:-}"
}

# A NoCloud seed disk (FAT, label cidata) for a Xen host without a metadata
# service: ./run.sh seed --key FILE [--user-data FILE] [--network-config FILE]
# [--out FILE] (default build/seed.img); see image/mkseed.sh.
seed() {
    command -v mformat >/dev/null || deps
    bash "$ROOT/image/mkseed.sh" "$@"
}

# The AMI steps for that image: printed, or done with --run (aws CLI).
ami() {
    image >&2
    bash "$ROOT/image/ami.sh" "$IMG" "$@"
}

# The README's first command: the whole product on real Xen. dom0 generates a
# key, serves it from an EC2-style metadata service; the appliance gets a DHCP
# lease, fetches the key and prints it.
demo() {
    build
    local out=$BUILD/xen-cloudinit
    local rc=0
    bash "$ROOT/harness/run-xen.sh" --guest "$ELF" --scenario "$ROOT/harness/scenarios/cloudinit.sh" --out "$out" || rc=$?
    echo
    echo "== the appliance's console (IMDSv2 run) =="
    cat "$out/guest-civ2.log" 2>/dev/null || echo "(no console log)"
    echo
    echo "== what dom0 served and what ssh-keygen says =="
    grep -E 'event=(key|done|idle)' "$out/harness.log" | sed 's/^HARNESS: //'
    echo
    echo "== dom0 logs in with that key (RSA 2048, EC2's default key pair type): ssh admin@<lease> status, ifconfig, metadata =="
    cat "$out/guest-civ2-ssh.log" 2>/dev/null || echo "(no ssh session log)"
    grep -E 'event=ssh-(status|keyscan)' "$out/harness.log" | sed 's/^HARNESS: //'
    echo "(rc= is ssh's exit status: the command's own, 0)"
    echo
    echo "appliance image: $(stat -c %s "$ELF") bytes (build/appliance.elf), memory = 32 MiB"
    return $rc
}

xl_run() {
    local cfg=${1:-$ROOT/harness/appliance.cfg}
    build
    command -v xl >/dev/null || { log "xl not found: this needs a Xen dom0"; exit 1; }
    sed "s|^kernel *=.*|kernel = \"$ELF\"|" "$cfg" >"$BUILD/appliance.cfg"
    local seed=${SEED:-$BUILD/seed.img}
    if [ -f "$seed" ] && ! grep -q '^disk' "$BUILD/appliance.cfg"; then
        echo "disk = [ \"format=raw, vdev=xvdb, access=ro, target=$(realpath "$seed")\" ]" >>"$BUILD/appliance.cfg"
        log "seed disk: $seed (read-only xvdb)"
    fi
    exec xl create -c "$BUILD/appliance.cfg"
}

bench_micro() {
    (cd "$ROOT" && cargo bench -p busdma --bench load_unload -- --warm-up-time 1 --measurement-time 3)
}

# The Linux anchor's files in OUT/linux-guest and the BENCH_*/DENSITY_*
# variables of the environment as run-xen.sh arguments (BENCH_ARGS).
bench_payload() {
    local out=$1 lg v
    lg=$(bash "$ROOT/harness/build-linux-guest.sh")
    rm -rf "$out/linux-guest"
    mkdir -p "$out/linux-guest"
    cp "$lg"/vmlinux.gz "$lg"/initrd.gz "$lg"/manifest.txt "$out/linux-guest/"
    BENCH_ARGS=(--extra "$out/linux-guest" --extra "$ROOT/harness/scenarios/bench-lib.sh")
    for v in $(compgen -e | grep -E '^(BENCH|DENSITY)_' | grep -Ev '^BENCH_(BASELINE|DENSITY_|TIMEOUT)' || true); do
        BENCH_ARGS+=(--env "$v=${!v}")
    done
}

# The appliance beside a Linux PVH guest on the same Xen, in one harness
# session (harness/scenarios/bench.sh); build/bench/report.md is the table,
# raw.csv/raw.json the numbers, xen/ the run's logs. BENCH_* variables in the
# environment are passed on (e.g. BENCH_RUNS=7); BENCH_BASELINE_ELF=old.elf
# boots an earlier appliance alternately with the others (boot and service
# runs) for an "appliance, before" column (or BENCH_BASELINE=raw.json, an
# earlier run's).
bench_xen() {
    build
    local out=$BUILD/bench rc=0
    bench_payload "$out"
    rm -f "$out/baseline.elf"
    [ -z "${BENCH_BASELINE_ELF:-}" ] || { cp "$BENCH_BASELINE_ELF" "$out/baseline.elf" && BENCH_ARGS+=(--extra "$out/baseline.elf"); }
    bash "$ROOT/harness/run-xen.sh" --guest "$ELF" --scenario "$ROOT/harness/scenarios/bench.sh" \
        --out "$out/xen" --timeout "${BENCH_TIMEOUT:-2400}" "${BENCH_ARGS[@]}" || rc=$?
    python3 "$ROOT/harness/bench_report.py" "$out/xen/harness.log" "$out" --elf "$ELF" --linux-dir "$out/linux-guest" \
        ${BENCH_BASELINE:+--baseline "$BENCH_BASELINE"} $([ -f "$BUILD/appliance.img" ] && echo --disk-image "$BUILD/appliance.img") || rc=1
    log "bench report: $out/report.md (raw: $out/raw.csv, $out/raw.json; logs: $out/xen)"
    return $rc
}

# Density (harness/scenarios/density.sh): fleets of appliances created back
# to back, then as many Linux guests as fit, one harness session per fleet
# (DENSITY_NS, default "16 32 64 max", then the Linux fleet): destroying a
# fleet has hung this harness's dom0, and a fresh host per fleet is fairer
# anyway. The first appliance session bisects the memory and the later ones
# reuse it. Report of all sessions in build/bench-density/report.md, logs in
# xen-FLEET/. DENSITY_* variables are passed on (DENSITY_KINDS picks the
# kinds); BENCH_DENSITY_QEMU_MIB (2048, as every harness run) and
# BENCH_DENSITY_DOM0_MIB (1024: dom0 pays for every guest, so the usual 768
# runs out before Xen does) size the harness host and dom0.
bench_density() {
    build
    local out=$BUILD/bench-density rc=0 d0=${BENCH_DENSITY_DOM0_MIB:-1024} n kinds sessions=()
    rm -rf "$out"
    mkdir -p "$out"
    kinds=" ${DENSITY_KINDS:-app linux} "
    [[ "$kinds" != *" app "* ]] || for n in ${DENSITY_NS:-16 32 64 max}; do sessions+=("$n"); done
    [[ "$kinds" != *" linux "* ]] || sessions+=(linux)
    for n in "${sessions[@]}"; do
        (
            if [ "$n" = linux ]; then export DENSITY_KINDS=linux; else export DENSITY_KINDS=app DENSITY_NS=$n; fi
            # as many as fit: each create takes longer as the host fills
            # (~2 s for the first, ~12 s at 130 guests: xl and oxenstored
            # walk every domain), about 50 minutes for 230 appliances
            local timeout=${BENCH_TIMEOUT:-4800}
            if [ "$n" = max ]; then
                export DENSITY_CREATE_S=${DENSITY_CREATE_S:-4200}
                timeout=${BENCH_TIMEOUT:-6600}
            fi
            export HARNESS_STALL_S=${HARNESS_STALL_S:-120}
            bench_payload "$out"
            log "density: session $n"
            bash "$ROOT/harness/run-xen.sh" --guest "$ELF" --scenario "$ROOT/harness/scenarios/density.sh" \
                --out "$out/xen-$n" --timeout "$timeout" --memory "${BENCH_DENSITY_QEMU_MIB:-2048}" \
                --xen-append "dom0_mem=${d0}M,max:${d0}M" "${BENCH_ARGS[@]}"
        ) || rc=1
        cat "$out/xen-$n/harness.log" >>"$out/harness.log" 2>/dev/null || rc=1
        # the bisected memory, for the sessions after this one
        if [ "$n" != linux ] && [ -z "${DENSITY_MEM_APP:-}" ]; then
            DENSITY_MEM_APP=$(grep -o 'kind=density-setup .*' "$out/xen-$n/harness.log" 2>/dev/null |
                grep -o 'mem_app=[0-9]*' | head -1 | cut -d= -f2)
            [ -z "$DENSITY_MEM_APP" ] || export DENSITY_MEM_APP
        fi
    done
    python3 "$ROOT/harness/bench_report.py" "$out/harness.log" "$out" || rc=1
    log "density report: $out/report.md (raw: $out/raw.csv, $out/raw.json; logs: $out/xen-*)"
    return $rc
}

bench() {
    case "${1:-all}" in
        micro) bench_micro ;;
        xen) bench_xen ;;
        density) bench_density ;;
        all) bench_micro && bench_xen ;;
        *) log "usage: run.sh bench [micro|xen|density]"; exit 2 ;;
    esac
}

# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain
# build with them.
fuzz() {
    local secs=${1:-60}
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
    for dir in "$ROOT"/*/fuzz "$ROOT"/apps/*/fuzz; do
        [ -d "$dir/fuzz_targets" ] || continue
        for t in "$dir"/fuzz_targets/*.rs; do
            t=$(basename "$t" .rs)
            log "fuzz $(basename "$(dirname "$dir")")/$t for ${secs}s"
            # the corpus grows under fuzz/corpus (ignored); committed seeds start it
            local dirs=("fuzz/corpus/$t")
            mkdir -p "$dir/corpus/$t"
            [ -d "$dir/seeds/$t" ] && dirs+=("fuzz/seeds/$t")
            (cd "$dir/.." && RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s none "$t" "${dirs[@]}" -- -max_total_time="$secs" -print_final_stats=1 2>&1 |
                grep -E 'stat::number_of_executed_units|Done|ERROR|panicked')
        done
    done
}

test_all() {
    local t0=$SECONDS
    deps
    log "host tests"
    (cd "$ROOT" && cargo test --workspace --exclude kernel 2>&1) | tee "$BUILD/host-tests.log" | grep -E '^(test result|running|error|failures|test .* FAILED)' || true
    if grep -q 'test result: FAILED\|^error' "$BUILD/host-tests.log"; then
        log "host tests failed"; cat "$BUILD/host-tests.log" | tail -50; exit 1
    fi
    log "bench report unit tests"
    python3 "$ROOT/harness/test_bench_report.py" >"$BUILD/bench-report-tests.log" 2>&1 ||
        { cat "$BUILD/bench-report-tests.log"; exit 1; }
    build
    bash "$ROOT/tests/qemu-boot.sh" "$ELF"
    bash "$ROOT/tests/xen-tests.sh" "$ELF"
    log "all tests passed in $((SECONDS - t0)) s"
}

mkdir -p "$BUILD"
cmd=${1:-help}
shift || true
case "$cmd" in
    build) build ;;
    qemu) qemu "$@" ;;
    xen) xen "$@" ;;
    xl) xl_run "$@" ;;
    deps) deps ;;
    bench) bench "$@" ;;
    image) image ;;
    seed) seed "$@" ;;
    ami) ami "$@" ;;
    fuzz) fuzz "$@" ;;
    test) test_all ;;
    demo) demo ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
esac
