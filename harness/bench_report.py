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

NAMES = {"app": "appliance", "linux": "Linux PVH", "base": "appliance, before"}


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


def diffs(recs, a, b):
    """a - b per record, where both are numbers."""
    out = []
    for r in recs:
        x, y = num(r.get(a)), num(r.get(b))
        if x is not None and y is not None:
            out.append(x - y)
    return out


def phase_fields(r):
    """The guest's own `boot: phases` fields of a boot record (name -> ms)."""
    out = {}
    for w in (r.get("phases") or "").split():
        k, _, v = w.partition("=")
        if num(v) is not None:
            out[k] = num(v)
    return out


def boot_summary(boots):
    ok = [r for r in boots if r.get("ok") == "1"]
    d = {"runs": len(boots), "failures": len(boots) - len(ok),
         "ssh_failures": sum(1 for r in ok if num(r.get("ssh_ms")) is None)}
    for k in ("key_ms", "ssh_ms", "xl_create_ms", "first_output_ms", "guest_ms", "ssh_session_ms"):
        d[k] = stats(r.get(k) for r in ok)
    # xl create returns once the domain is unpaused: its end is the domain's start
    d["start_to_key_ms"] = stats(diffs(ok, "key_ms", "xl_create_ms"))
    d["start_to_ssh_ms"] = stats(diffs(ok, "ssh_ms", "xl_create_ms"))
    names = []
    for r in ok:
        names += [n for n in phase_fields(r) if n not in names]
    d["phases"] = {n: stats(phase_fields(r).get(n) for r in ok) for n in names}
    return d


def boot_mode(r):
    """A boot record's mode: its DHCP mode, '+lean' when the vif came up
    through harness/dom0/vif-lean rather than Debian's vif-bridge."""
    m = r.get("dhcp", "check")  # runs before DHCP modes had dnsmasq's check
    return m + "+lean" if r.get("hotplug") == "vif-lean" else m


def last(recs, **match):
    """The last record whose fields equal match (None if none)."""
    hits = [r for r in recs if all(r.get(k) == v for k, v in match.items())]
    return hits[-1] if hits else None


def summarize(recs):
    s = {}
    for g in ("app", "linux", "base"):
        mine = [r for r in recs if r.get("guest") == g]
        boots = [r for r in mine if r.get("kind") == "boot"]
        modes = []
        for r in boots:
            if boot_mode(r) not in modes:
                modes.append(boot_mode(r))
        d = {"boot": {m: boot_summary([r for r in boots if boot_mode(r) == m]) for m in modes},
             "boot_runs": len(boots)}
        mm = last(mine, kind="min_memory")
        d["min_memory_mib"] = num(mm["memory_mib"]) if mm else None
        i = last(mine, kind="idle")
        if i and num(i.get("cpu_s_after")) is not None and num(i.get("cpu_s_before")) is not None:
            d["idle_cpu_s"] = round(num(i["cpu_s_after"]) - num(i["cpu_s_before"]), 3)
            d["idle_seconds"] = num(i.get("seconds"))
        p = last(mine, kind="ping")
        if p:
            d["ping"] = {k: num(p.get(k)) for k in ("p50_ms", "p99_ms", "sent", "received", "lost")}
        d["tcp"], d["cost"], d["mtu"] = {}, {}, {}
        for r in mine:
            mtu = r.get("mtu", "1500")
            if r.get("kind") == "tcp" and num(r.get("mb_s")) is not None:
                d["tcp"].setdefault(mtu, {})[r.get("dir")] = num(r["mb_s"])
            elif r.get("kind") == "cost":
                d["cost"].setdefault(mtu, {})[r.get("dir")] = {
                    k: num(v) for k, v in r.items() if num(v) is not None and k not in ("t_ms", "mtu")}
            elif r.get("kind") == "mtu":
                d["mtu"][mtu] = {k: r.get(k) for k in ("vif_mtu", "lease_mtu", "netfront_mtu")}
        s[g] = d
    return s


def legacy(d):
    """An earlier raw.json's summary (one DHCP mode, one MTU) in today's shape."""
    if d is None or "boot" in d:
        return d
    d = dict(d)
    d["boot"] = {"check": {k: d.get(k) for k in ("key_ms", "xl_create_ms", "first_output_ms", "guest_ms")}}
    d["boot"]["check"]["failures"] = d.get("boot_failures", 0)
    d["tcp"] = {"1500": {dr: d["tcp_%s_mb_s" % dr] for dr in ("to_guest", "from_guest") if "tcp_%s_mb_s" % dr in d}}
    d["cost"] = {"1500": {dr: d["cost_" + dr] for dr in ("to_guest", "from_guest") if "cost_" + dr in d}}
    return d


def fmt_s(ms):
    return "-" if ms is None else "%.2f" % (ms / 1000)


def ratio(a, b, digits=1):
    """b / a, as 'N.Nx' (how many times the appliance's number the other is)."""
    if a is None or b is None or a == 0:
        return "-"
    return "%.*fx" % (digits, b / a)


def cell(v, f="%s"):
    return "-" if v is None else f % v


def spread(st, failures=0):
    """'median (min–max, n=N[, F failed])' in seconds, from a stats dict."""
    if not st:
        return "-"
    return "%s (%s–%s, n=%d%s)" % (fmt_s(st["median"]), fmt_s(st["min"]), fmt_s(st["max"]), st["n"],
                                   ", %d failed" % failures if failures else "")


def med(st):
    return st["median"] if st else None


DHCP_MODES = {
    "cloud+lean": "DHCP as a cloud's (dnsmasq `--no-ping`), vif hotplug by harness/dom0/vif-lean",
    "cloud": "DHCP as a cloud's: offered at once (dnsmasq `--no-ping`), vif hotplug by Debian's vif-bridge",
    "check": "dnsmasq's default: 3 ARP pings 1 s apart before each offer",
}
# the cloud-like modes, for the targets
CLOUD_MODES = ("cloud+lean", "cloud")
# (appliance's name, Linux guest's name, what it marks): the guests' own clocks
# (the appliance's clock starts at its kernel's entry, Linux's uptime at its
# kernel's start)
PHASES = [
    ("xen_ms", "init_ms", "kernel up: Xen platform (appliance), /init started (Linux)"),
    ("xenstore_ms", None, "XenStore connected (Linux: inside its kernel's start)"),
    ("netfront_ms", "netfront_ms", "netfront connected"),
    ("address_ms", "address_ms", "address leased"),
    ("metadata_ms", "metadata_ms", "key fetched"),
    ("ssh_ms", "ssh_ms", "SSH listening"),
]


def mode_order(s):
    modes = []
    for g in ("app", "linux", "base"):
        modes += [m for m in (s.get(g) or {}).get("boot", {}) if m not in modes]
    known = list(DHCP_MODES)
    return sorted(modes, key=lambda m: (known.index(m) if m in known else len(known), m))


def table(s, sizes, baseline=None):
    a, l = s.get("app", {}), s.get("linux", {})
    b = legacy(baseline) or None
    cols = ([b] if b is not None else []) + [a, l]
    rows = []

    def row(name, f, get=None, digits=1, only=None):
        """f(d) -> cell for each guest; get(d) -> number for the Linux / appliance ratio."""
        cells = [f(d) if (only is None or d is not l) else only for d in cols]
        rows.append([name] + cells + [ratio(get(a), get(l), digits) if get else "-"])

    def boot(d, m):
        return (d.get("boot") or {}).get(m) or {}

    for m in mode_order(s):
        rows.append(["**%s**" % DHCP_MODES.get(m, m)] + [""] * (len(cols) + 1))
        bm = lambda d, k: boot(d, m).get(k)
        row("boot to key: median s (min–max, runs)", lambda d: spread(bm(d, "key_ms"), bm(d, "failures") or 0),
            lambda d: med(bm(d, "key_ms")))
        row("  of which `xl create` (median s)", lambda d: fmt_s(med(bm(d, "xl_create_ms"))),
            lambda d: med(bm(d, "xl_create_ms")))
        row("  domain start → key (median s)", lambda d: fmt_s(med(bm(d, "start_to_key_ms"))),
            lambda d: med(bm(d, "start_to_key_ms")))
        row("  first console output (median s)", lambda d: fmt_s(med(bm(d, "first_output_ms"))),
            lambda d: med(bm(d, "first_output_ms")))
        row("  guest's own clock to key (median s)", lambda d: fmt_s(med(bm(d, "guest_ms"))),
            lambda d: med(bm(d, "guest_ms")))
        row("boot to SSH-ready (first `ssh ... status` that succeeds): median s", lambda d: spread(
            bm(d, "ssh_ms"), bm(d, "ssh_failures") or 0), lambda d: med(bm(d, "ssh_ms")))
        row("  domain start → SSH-ready (median s)", lambda d: fmt_s(med(bm(d, "start_to_ssh_ms"))),
            lambda d: med(bm(d, "start_to_ssh_ms")))
        row("  that first SSH session as the guest saw it: connected → closed (median ms)",
            lambda d: cell(med(bm(d, "ssh_session_ms")), "%d"), only="-")
        for ours, theirs, what in PHASES:
            ph = lambda d: med((bm(d, "phases") or {}).get(theirs if d is l else ours))
            row("  own clock: %s (median ms)" % what, lambda d: cell(ph(d), "%d"), ph)
        xs = lambda d, k: med((bm(d, "phases") or {}).get(k))
        row("  XenStore requests during boot: median count (their round trips, ms)",
            lambda d: "-" if xs(d, "xenstore_requests") is None else "%d (%d)" % (
                xs(d, "xenstore_requests"), xs(d, "xenstore_request_ms") or 0))
    rows.append(["**the guest itself**"] + [""] * (len(cols) + 1))
    def fixed(name, va, vl):
        """a row of file sizes: the same for the earlier appliance's column"""
        rows.append([name] + ["-"] * (b is not None) + [cell(va), cell(vl), ratio(va, vl)])
    fixed("kernel image (bytes)", sizes.get("app_elf"), sizes.get("linux_kernel"))
    fixed("boot files as shipped (bytes)", sizes.get("app_elf"), sizes.get("linux_shipped"))
    if sizes.get("disk_image"):
        fixed("disk image (bytes)", sizes.get("disk_image"), None)
    row("smallest `memory =` that gets the key and serves SSH (MiB)", lambda d: cell(d.get("min_memory_mib"), "%g"),
        lambda d: d.get("min_memory_mib"))

    def idle(d):
        if d.get("idle_cpu_s") is None:
            return "-"
        return "%.1f s in %g s" % (d["idle_cpu_s"], d.get("idle_seconds") or 0)
    row("CPU used while idle after the key", idle)

    def ping(d):
        p = d.get("ping")
        if not p or p.get("p50_ms") is None:
            return "-"
        return "%.3f / %.3f (%d/%d)" % (p["p50_ms"], p["p99_ms"], p["received"] or 0, p["sent"] or 0)
    row("ping from dom0 p50 / p99 ms (replies)", ping, lambda d: (d.get("ping") or {}).get("p50_ms"))
    mtus = set()
    for d in cols:
        mtus |= set(d.get("tcp") or {}) | set(d.get("cost") or {})
    for mtu in sorted(mtus, key=lambda m: num(m) or 0):
        rows.append(["**TCP at MTU %s** (bridge, vif and DHCP option 26)" % mtu] + [""] * (len(cols) + 1))
        if mtu != "1500":
            def took(d, mtu=mtu):
                t = (d.get("mtu") or {}).get(mtu)
                return "-" if not t else "vif %s, lease %s, netfront %s" % (
                    t.get("vif_mtu") or "-", t.get("lease_mtu") or "-", t.get("netfront_mtu") or "-")
            row("  MTU the guest took", took)
        for dr, name in (("to_guest", "dom0 → guest sink"), ("from_guest", "guest source → dom0")):
            # higher is better here: the ratio is still Linux / appliance
            get = lambda d, dr=dr, mtu=mtu: ((d.get("tcp") or {}).get(mtu) or {}).get(dr)
            row("  TCP %s (MB/s)" % name, lambda d, get=get: cell(get(d), "%.2f"), get, 2)
        for dr, name in (("to_guest", "dom0 → guest"), ("from_guest", "guest → dom0")):
            def cost(d, dr=dr, mtu=mtu):
                c = ((d.get("cost") or {}).get(mtu) or {}).get(dr)
                if not c:
                    return "-"
                out = "%d hypercalls, %d notifications, %d upcalls" % (
                    c.get("hypercalls_per_1k_packets", 0), c.get("notifies_per_1k_packets", 0),
                    c.get("upcalls_per_1k_packets", 0))
                pk, mib = (c.get("rx_packets") or 0) + (c.get("tx_packets") or 0), (c.get("bytes") or 0) / 1048576
                if pk and mib:
                    # a GSO packet is up to 64 KiB: per MiB compares MTUs and offloads
                    out += " (%d packets; per MiB %.0f / %.0f / %.0f)" % (
                        pk, c.get("hypercalls", 0) / mib, c.get("notifies", 0) / mib, c.get("upcalls", 0) / mib)
                return out
            row("  per 1000 packets, " + name, cost, only="not counted")
    head = [""] + (["appliance, before"] if b is not None else []) + ["appliance", "Linux PVH", "Linux / appliance"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def targets(s):
    """Issue 19's boot targets, for each cloud-like mode measured (for the
    plain cloud mode only when none was): what was measured against each."""
    out = []
    have = [m for m in CLOUD_MODES if any(m in (s.get(g) or {}).get("boot", {}) for g in ("app", "linux"))]
    for m in have or ["cloud"]:
        a, l = (s.get(g, {}).get("boot", {}).get(m) or {} for g in ("app", "linux"))
        how = "cloud-like DHCP" + (", vif-lean" if m.endswith("+lean") else "")
        for key, what, want in (("start_to_key_ms", "domain start → key", 20),
                                ("ssh_ms", "`xl create` start → SSH-ready", 5)):
            x, y = med(a.get(key)), med(l.get(key))
            if x is None or y is None or x == 0:
                out.append("- %s, %s: not measured (target ≥ %dx)" % (what, how, want))
                continue
            # two decimals: 4.95x is not met, and must not read as 5.0x
            out.append("- %s, %s: Linux %s s / appliance %s s = %.2fx (target ≥ %dx: %s)"
                       % (what, how, fmt_s(y), fmt_s(x), y / x, want, "met" if y / x >= want else "not met"))
    return "\n".join(out)


def density(recs):
    """The density run's fleets (harness/scenarios/density.sh), in run order."""
    fleets = []
    for f in (r for r in recs if r.get("kind") == "density-fleet"):
        tag = f.get("fleet")
        guests = [r for r in recs if r.get("kind") == "density-guest" and r.get("fleet") == tag]
        mem = {r.get("phase"): r for r in recs if r.get("kind") == "density-mem" and r.get("fleet") == tag}
        failed = last(recs, kind="density-create-failed", fleet=tag)
        d = {k: f.get(k) for k in ("fleet", "guest", "stop")}
        for k in ("memory_mib", "max", "want", "created", "keyed", "ssh_ready", "create_all_ms", "faults",
                  "triple_faults", "create_retries"):
            d[k] = num(f.get(k))
        keys = [num(g.get("key_ms")) for g in guests if num(g.get("key_ms")) is not None]
        sshs = [num(g.get("ssh_ms")) for g in guests if num(g.get("ssh_ms")) is not None]
        d["last_key_ms"] = max(keys) if keys else None
        d["last_ssh_ms"] = max(sshs) if sshs else None
        d["create_ms"] = stats(g.get("create_ms") for g in guests)
        creates = [num(g.get("create_ms")) for g in guests if num(g.get("create_ms")) is not None]
        d["first_create_ms"], d["last_create_ms"] = (creates[0], creates[-1]) if creates else (None, None)
        d["failed_reason"] = failed.get("reason") if failed else None
        d["trouble"] = [g.get("name") for g in guests if g.get("fault") == "1" or num(g.get("key_ms")) is None]
        before, after = mem.get("before") or {}, mem.get("after") or {}
        for k in ("xen_free_mib", "dom0_avail_kib", "xenstored_rss_kib", "oxenstored_rss_kib", "xl_rss_kib", "xl_procs"):
            d[k] = num(after.get(k))
            d[k + "_before"] = num(before.get(k))
        n = d["created"] or 0
        if n and d["xen_free_mib"] is not None and d["xen_free_mib_before"] is not None:
            d["xen_mib_per_guest"] = (d["xen_free_mib_before"] - d["xen_free_mib"]) / n
        if n and d["dom0_avail_kib"] is not None and d["dom0_avail_kib_before"] is not None:
            d["dom0_kib_per_guest"] = (d["dom0_avail_kib_before"] - d["dom0_avail_kib"]) / n
        fleets.append(d)
    setup = last(recs, kind="density-setup") or {}
    m4 = last(recs, kind="memory", guest="app", memory_mib="4")
    return {"fleets": fleets, "mem_app": num(setup.get("mem_app")), "mem_linux": num(setup.get("mem_linux")),
            "xen_total_mib": num(setup.get("xen_total_mib")), "dom0_total_kib": num(setup.get("dom0_total_kib")),
            "memory_4": None if m4 is None else {"key": m4.get("key") == "1", "ssh": m4.get("ssh") == "1"}}


def density_table(ds):
    head = ["fleet", "`memory =` MiB", "created (stopped by)", "got the key", "SSH-ready",
            "first `xl create` → last key (s)", "→ last SSH-ready (s)", "`xl create` median s (first, last)",
            "Xen free after (MiB)", "dom0 MemAvailable after (MiB)", "per guest: Xen / dom0 (MiB)",
            "dom0: xenstored / xl processes RSS (MiB)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in ds["fleets"]:
        name = "%s × %s" % (NAMES.get(d["guest"], d["guest"]), "as many as fit" if d["max"] else cell(d["want"], "%d"))
        stop = "" if d["stop"] == "all-created" else " (%s)" % d["stop"]
        if d.get("create_retries"):
            stop += ", %d `xl create` retried" % d["create_retries"]
        cr = d["create_ms"]
        mib = lambda kib: None if kib is None else kib / 1024
        store = (d["xenstored_rss_kib"] or 0) + (d["oxenstored_rss_kib"] or 0)
        out.append("| " + " | ".join([
            name, cell(d["memory_mib"], "%g"), cell(d["created"], "%d") + stop, cell(d["keyed"], "%d"),
            cell(d["ssh_ready"], "%d"), fmt_s(d["last_key_ms"]), fmt_s(d["last_ssh_ms"]),
            "-" if not cr else "%s (%s, %s)" % (fmt_s(cr["median"]), fmt_s(d["first_create_ms"]), fmt_s(d["last_create_ms"])),
            cell(d["xen_free_mib"], "%d"), cell(mib(d["dom0_avail_kib"]), "%d"),
            "%s / %s" % (cell(d.get("xen_mib_per_guest"), "%.2f"), cell(mib(d.get("dom0_kib_per_guest")), "%.2f")),
            "%s / %s (%s)" % (cell(mib(store), "%.1f"), cell(mib(d["xl_rss_kib"]), "%.1f"), cell(d["xl_procs"], "%d")),
        ]) + " |")
    return "\n".join(out)


def density_findings(ds):
    """The issue's density questions, answered from the fleets."""
    out = []
    m4 = ds["memory_4"]
    if m4 is not None:
        out.append("- `memory = 4`: key %s, SSH %s" % ("fetched" if m4["key"] else "not fetched",
                                                       "served" if m4["ssh"] else "not served"))
    out.append("- smallest `memory =` that gets the key and serves SSH: appliance %s MiB, Linux %s MiB"
               % (cell(ds["mem_app"], "%g"), cell(ds["mem_linux"], "%g")))
    fit = {d["guest"]: d for d in ds["fleets"] if d["max"]}
    if "app" in fit and "linux" in fit and fit["linux"]["created"]:
        r = fit["app"]["created"] / fit["linux"]["created"]
        out.append("- in the same host memory: %d appliances, %d Linux guests = %.1fx (target ≥ 15x: %s)"
                   % (fit["app"]["created"], fit["linux"]["created"], r, "met" if r >= 15 else "not met"))
    for d in ds["fleets"]:
        if d["guest"] == "app" and d["want"] == 64 and not d["max"]:
            out.append("- 64 appliances all keyed: %s (%d of %d)" % (
                "yes" if d["keyed"] == 64 else "no", d["keyed"] or 0, d["created"] or 0))
    for d in ds["fleets"]:
        if d["failed_reason"]:
            out.append("- %s stopped at `xl create` %d: %s" % (d["fleet"], (d["created"] or 0) + 1, d["failed_reason"]))
        if d["trouble"] or d["triple_faults"]:
            out.append("- %s: no key or a trap: %s; triple faults in `xl dmesg`: %d" % (
                d["fleet"], " ".join(d["trouble"]) or "none", d["triple_faults"] or 0))
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
    md = []
    if any(r.get("kind") in ("boot", "tcp", "min_memory") for r in recs):
        md += ["# Bench: the appliance beside a Linux PVH guest", "",
               "Same Xen 4.17 + dom0 (inside QEMU TCG), runs alternating; IMDS mode %s, memory %s MiB (appliance)"
               " and %s MiB (Linux)." % (setup.get("imds_mode", "?"), setup.get("mem_app", "?"), setup.get("mem_linux", "?")),
               "Absolute times under TCG are not cloud numbers: compare the ratios. Boot to key runs from the start of"
               " `xl create` to the `ssh-key:` line on the guest's console, boot to SSH-ready to the return of the first"
               " `ssh admin@IP status` that succeeds (tried from the key on, 0.1 s apart); the domain starts when `xl"
               " create` returns (it unpauses the domain last). The ratio is Linux / appliance: above 1, Linux takes more"
               " (time, bytes, memory) or, for MB/s, moves more.", "",
               table(s, sizes, base), "", targets(s), ""]
    ds = density(recs)
    if ds["fleets"]:
        md += ["# Density: fleets created back to back on one host", "",
               "Host: %s MiB under Xen, dom0 %s MiB. Each fleet: one `xl create` after the other, none waited for,"
               " cloud-like DHCP; times from the first `xl create`; memory after, with the fleet still running."
               % (cell(ds["xen_total_mib"], "%d"), cell(ds["dom0_total_kib"] and ds["dom0_total_kib"] / 1024, "%d")), "",
               density_table(ds), "", density_findings(ds), ""]
    open(os.path.join(a.out, "report.md"), "w").write("\n".join(md))
    print("\n".join(md))
    return 0 if recs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
