#!/usr/bin/env python3
"""Turn a bench run's HARNESS lines (harness/scenarios/bench.sh) into
build/bench/report.md, raw.csv (one row per measurement) and raw.json
(measurements + summary).

usage: bench_report.py HARNESS_LOG OUT_DIR [--elf ELF] [--linux-dir DIR]
                       [--disk-image IMG] [--baseline RAW_JSON]

An "appliance, before" column comes from the run's own "base" guest (an
earlier appliance ELF booted alternately in the same session: run.sh's
BENCH_BASELINE_ELF), else from --baseline, an earlier run's raw.json."""
import argparse, csv, json, os, shlex, statistics, subprocess, sys, tempfile

NAMES = {"app": "appliance", "linux": "Linux PVH"}


def parse(lines):
    """The event=bench records of a harness log, as dicts of strings."""
    out = []
    for line in lines:
        line = line.strip()
        if not line.startswith("HARNESS:") or "event=bench" not in line:
            continue
        try:
            words = shlex.split(line[len("HARNESS:"):])
        except ValueError:
            continue
        rec = {}
        for w in words:
            if "=" in w:
                k, v = w.split("=", 1)
                rec[k] = v
        if rec.get("event") == "bench":
            out.append(rec)
    return out


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def stats(values):
    """median/min/max/n of the numbers among values (None when there are none)."""
    v = sorted(x for x in (num(y) for y in values) if x is not None)
    if not v:
        return None
    return {"median": statistics.median(v), "min": v[0], "max": v[-1], "n": len(v)}


def summarize(recs):
    s = {}
    for g in ("app", "linux", "base"):
        mine = [r for r in recs if r.get("guest") == g]
        boots = [r for r in mine if r.get("kind") == "boot"]
        ok = [r for r in boots if r.get("ok") == "1"]
        d = {
            "boot_runs": len(boots),
            "boot_failures": len(boots) - len(ok),
            "key_ms": stats(r.get("key_ms") for r in ok),
            "xl_create_ms": stats(r.get("xl_create_ms") for r in ok),
            "first_output_ms": stats(r.get("first_output_ms") for r in ok),
            "guest_ms": stats(r.get("guest_ms") for r in ok),
        }
        mm = [r for r in mine if r.get("kind") == "min_memory"]
        d["min_memory_mib"] = num(mm[-1]["memory_mib"]) if mm else None
        idle = [r for r in mine if r.get("kind") == "idle"]
        if idle and num(idle[-1].get("cpu_s_after")) is not None and num(idle[-1].get("cpu_s_before")) is not None:
            i = idle[-1]
            d["idle_cpu_s"] = round(num(i["cpu_s_after"]) - num(i["cpu_s_before"]), 3)
            d["idle_seconds"] = num(i.get("seconds"))
        ping = [r for r in mine if r.get("kind") == "ping"]
        if ping:
            p = ping[-1]
            d["ping"] = {k: num(p.get(k)) for k in ("p50_ms", "p99_ms", "sent", "received", "lost")}
        for dr in ("to_guest", "from_guest"):
            t = [r for r in mine if r.get("kind") == "tcp" and r.get("dir") == dr]
            if t and num(t[-1].get("mb_s")) is not None:
                d["tcp_" + dr + "_mb_s"] = num(t[-1]["mb_s"])
            c = [r for r in mine if r.get("kind") == "cost" and r.get("dir") == dr]
            if c:
                d["cost_" + dr] = {k: num(v) for k, v in c[-1].items() if num(v) is not None and k != "t_ms"}
        s[g] = d
    return s


def fmt_s(ms):
    return "-" if ms is None else "%.2f" % (ms / 1000)


def ratio(a, b, digits=1):
    """b / a, as 'N.Nx' (how many times the appliance's number the other is)."""
    if a is None or b is None or a == 0:
        return "-"
    return "%.*fx" % (digits, b / a)


def cell(v, f="%s"):
    return "-" if v is None else f % v


def boot_cell(d):
    k = d.get("key_ms")
    if not k:
        return "-"
    return "%s (%s–%s, n=%d%s)" % (fmt_s(k["median"]), fmt_s(k["min"]), fmt_s(k["max"]), k["n"],
                                   ", %d failed" % d["boot_failures"] if d["boot_failures"] else "")


def med(d, key):
    v = d.get(key)
    return v["median"] if v else None


def table(s, sizes, baseline=None):
    a, l = s.get("app", {}), s.get("linux", {})
    b = baseline or None
    rows = []

    def row(name, fa, fl, r, fb=None):
        rows.append((name, fa, fl, r) if b is None else (name, fb if fb is not None else "-", fa, fl, r))

    row("boot to key: median s (min–max, runs)", boot_cell(a), boot_cell(l), ratio(med(a, "key_ms"), med(l, "key_ms")),
        boot_cell(b) if b else None)
    row("  of which `xl create` (median s)", fmt_s(med(a, "xl_create_ms")), fmt_s(med(l, "xl_create_ms")),
        ratio(med(a, "xl_create_ms"), med(l, "xl_create_ms")), fmt_s(med(b, "xl_create_ms")) if b else None)
    row("  first console output (median s)", fmt_s(med(a, "first_output_ms")), fmt_s(med(l, "first_output_ms")),
        ratio(med(a, "first_output_ms"), med(l, "first_output_ms")), fmt_s(med(b, "first_output_ms")) if b else None)
    row("  guest's own clock to key (median s)", fmt_s(med(a, "guest_ms")), fmt_s(med(l, "guest_ms")),
        ratio(med(a, "guest_ms"), med(l, "guest_ms")), fmt_s(med(b, "guest_ms")) if b else None)
    row("kernel image (bytes)", cell(sizes.get("app_elf")), cell(sizes.get("linux_kernel")),
        ratio(sizes.get("app_elf"), sizes.get("linux_kernel")))
    row("boot files as shipped (bytes)", cell(sizes.get("app_elf")), cell(sizes.get("linux_shipped")),
        ratio(sizes.get("app_elf"), sizes.get("linux_shipped")))
    if sizes.get("disk_image"):
        row("disk image (bytes)", cell(sizes.get("disk_image")), "-", "-")
    row("smallest `memory =` that gets the key (MiB)", cell(a.get("min_memory_mib"), "%g"),
        cell(l.get("min_memory_mib"), "%g"), ratio(a.get("min_memory_mib"), l.get("min_memory_mib")),
        cell(b.get("min_memory_mib"), "%g") if b else None)

    def idle(d):
        if d.get("idle_cpu_s") is None:
            return "-"
        return "%.1f s in %g s" % (d["idle_cpu_s"], d.get("idle_seconds") or 0)
    row("CPU used while idle after the key", idle(a), idle(l), "-", idle(b) if b else None)

    def ping(d):
        p = d.get("ping")
        if not p or p.get("p50_ms") is None:
            return "-"
        return "%.3f / %.3f (%d/%d)" % (p["p50_ms"], p["p99_ms"], p["received"] or 0, p["sent"] or 0)
    pa, pl = a.get("ping") or {}, l.get("ping") or {}
    row("ping from dom0 p50 / p99 ms (replies)", ping(a), ping(l), ratio(pa.get("p50_ms"), pl.get("p50_ms")),
        ping(b) if b else None)
    for dr, name in (("to_guest", "TCP dom0 → guest sink (MB/s)"), ("from_guest", "TCP guest source → dom0 (MB/s)")):
        k = "tcp_" + dr + "_mb_s"
        # higher is better here: the ratio is still Linux / appliance
        row(name, cell(a.get(k), "%.2f"), cell(l.get(k), "%.2f"), ratio(a.get(k), l.get(k), 2),
            cell(b.get(k), "%.2f") if b else None)
    for dr, name in (("to_guest", "dom0 → guest"), ("from_guest", "guest → dom0")):
        c = a.get("cost_" + dr)
        cb = (b or {}).get("cost_" + dr)

        def cost(c):
            if not c:
                return "-"
            return "%d hypercalls, %d notifications, %d upcalls" % (
                c.get("hypercalls_per_1k_packets", 0), c.get("notifies_per_1k_packets", 0),
                c.get("upcalls_per_1k_packets", 0))
        row("per 1000 packets, " + name, cost(c), "not counted", "-", cost(cb) if b else None)
    head = ["", "appliance", "Linux PVH", "Linux / appliance"]
    if b is not None:
        head = ["", "appliance, before"] + head[1:]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def file_sizes(elf, linux_dir, disk):
    s = {}
    if elf and os.path.exists(elf):
        with tempfile.TemporaryDirectory() as t:
            stripped = os.path.join(t, "s.elf")
            try:
                subprocess.run(["strip", "-o", stripped, elf], check=True, capture_output=True)
                s["app_elf"] = os.path.getsize(stripped)
            except (OSError, subprocess.CalledProcessError):
                s["app_elf"] = os.path.getsize(elf)
    if linux_dir:
        man = os.path.join(linux_dir, "manifest.txt")
        if os.path.exists(man):
            for w in open(man).read().split():
                if w.startswith("vmlinux_bytes="):
                    s["linux_kernel"] = int(w.split("=", 1)[1])
        files = [os.path.join(linux_dir, f) for f in ("vmlinux.gz", "initrd.gz")]
        if all(os.path.exists(f) for f in files):
            s["linux_shipped"] = sum(os.path.getsize(f) for f in files)
    if disk and os.path.exists(disk):
        s["disk_image"] = os.path.getsize(disk)
    return s


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("out")
    ap.add_argument("--elf")
    ap.add_argument("--linux-dir")
    ap.add_argument("--disk-image")
    ap.add_argument("--baseline")
    a = ap.parse_args(argv)
    recs = parse(open(a.log, errors="replace"))
    s = summarize(recs)
    sizes = file_sizes(a.elf, a.linux_dir, a.disk_image)
    base = None
    if s["base"]["boot_runs"]:
        base = s["base"]
    elif a.baseline:
        with open(a.baseline) as f:
            base = json.load(f)["summary"].get("app")
    os.makedirs(a.out, exist_ok=True)
    keys = []
    for r in recs:
        keys += [k for k in r if k not in keys]
    with open(os.path.join(a.out, "raw.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(recs)
    json.dump({"records": recs, "summary": s, "sizes": sizes}, open(os.path.join(a.out, "raw.json"), "w"), indent=1)
    setup = next((r for r in recs if r.get("kind") == "setup"), {})
    md = ["# Bench: the appliance beside a Linux PVH guest", "",
          "Same Xen 4.17 + dom0 (inside QEMU TCG), runs alternating; IMDS mode %s, memory %s MiB (appliance) and %s MiB (Linux)."
          % (setup.get("imds_mode", "?"), setup.get("mem_app", "?"), setup.get("mem_linux", "?")),
          "Absolute times under TCG are not cloud numbers: compare the ratios. Boot to key runs from the start of"
          " `xl create` to the `ssh-key:` line on the guest's console. The ratio is Linux / appliance: above 1,"
          " Linux takes more (time, bytes, memory) or, for MB/s, moves more.", "",
          table(s, sizes, base), ""]
    open(os.path.join(a.out, "report.md"), "w").write("\n".join(md))
    print("\n".join(md))
    return 0 if recs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
