#!/usr/bin/env python3
"""Unit tests of harness/bench_report.py (run: python3 harness/test_bench_report.py; ./run.sh test runs it)."""
import json, os, sys, tempfile, unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_report as br

LOG = """\
(d1) noise
HARNESS: t_ms=1 event=dom0-ready xen_version=4.17.5
HARNESS: t_ms=2 event=bench kind=setup imds_mode=v2 runs=3 mem_app=32 mem_linux=128 xfer_bytes=1 kinds="app linux"
HARNESS: t_ms=3 event=bench kind=boot guest=app run=1 ok=1 why=ok xl_create_ms=3000 first_output_ms=3100 key_ms=5000 guest_ms=1900
HARNESS: t_ms=4 event=bench kind=boot guest=linux run=1 ok=1 why=ok xl_create_ms=4000 first_output_ms=6000 key_ms=15000 guest_ms=10000
HARNESS: t_ms=5 event=bench kind=boot guest=app run=2 ok=1 why=ok xl_create_ms=2000 first_output_ms=2100 key_ms=3000 guest_ms=900
HARNESS: t_ms=6 event=bench kind=boot guest=linux run=2 ok=0 why=timeout xl_create_ms=4000 first_output_ms=- key_ms=- guest_ms=
HARNESS: t_ms=7 event=bench kind=boot guest=app run=3 ok=1 why=ok xl_create_ms=2500 first_output_ms=2600 key_ms=4000 guest_ms=1400
HARNESS: t_ms=8 event=bench kind=boot guest=linux run=3 ok=1 why=ok xl_create_ms=4000 first_output_ms=6000 key_ms=17000 guest_ms=12000
HARNESS: t_ms=9 event=bench kind=min_memory guest=app memory_mib=5
HARNESS: t_ms=10 event=bench kind=min_memory guest=linux memory_mib=75
HARNESS: t_ms=11 event=bench kind=idle guest=app seconds=30 cpu_s_before=0.3 cpu_s_after=0.3 state=-b----
HARNESS: t_ms=12 event=bench kind=ping guest=app ip=10.0.0.5 sent=1000 received=999 lost=1 p50_ms=1.500 p99_ms=9.000 min_ms=1 max_ms=10
HARNESS: t_ms=13 event=bench kind=tcp guest=app dir=to_guest bytes=100 s=1 mb_s=10.00
HARNESS: t_ms=14 event=bench kind=tcp guest=linux dir=to_guest bytes=100 s=1 mb_s=20.00
HARNESS: t_ms=15 event=bench kind=cost guest=app dir=to_guest port=5001 name=sink hypercalls_per_1k_packets=141 notifies_per_1k_packets=48 upcalls_per_1k_packets=100
HARNESS: t_ms=16 check=pass name="x"
"""

# the cloud-like DHCP mode: domain start -> key 300, 500 (app), 8000 (linux)
CLOUD = """\
HARNESS: t_ms=30 event=bench kind=boot guest=app dhcp=cloud run=1 ok=1 why=ok xl_create_ms=2000 first_output_ms=2100 key_ms=2300 ssh_ms=3300 ssh_session_ms=420 guest_ms=250 phases="xen_ms=20 xenstore_ms=50 netfront_ms=60 address_ms=100 metadata_ms=250 ssh_ms=250 xenstore_requests=60 xenstore_request_ms=90"
HARNESS: t_ms=31 event=bench kind=boot guest=linux dhcp=cloud run=1 ok=1 why=ok xl_create_ms=4000 first_output_ms=6000 key_ms=12000 ssh_ms=12000 guest_ms=8000 phases="init_ms=4000 netfront_ms=5000 address_ms=6000 metadata_ms=8000 ssh_ms=8500"
HARNESS: t_ms=32 event=bench kind=boot guest=app dhcp=cloud run=2 ok=1 why=ok xl_create_ms=3000 first_output_ms=3100 key_ms=3500 ssh_ms=- guest_ms=450 phases="xen_ms=40 xenstore_ms=70 netfront_ms=80 address_ms=200 metadata_ms=450 ssh_ms=450"
"""
# the same, with the lean vif hotplug script: its own mode
LEAN = """\
HARNESS: t_ms=33 event=bench kind=boot guest=app dhcp=cloud hotplug=vif-lean run=1 ok=1 why=ok xl_create_ms=1000 first_output_ms=1100 key_ms=1300 ssh_ms=2000 guest_ms=250 phases="xenstore_ms=50"
HARNESS: t_ms=34 event=bench kind=boot guest=linux dhcp=cloud hotplug=vif-lean run=1 ok=1 why=ok xl_create_ms=3000 first_output_ms=5000 key_ms=11000 ssh_ms=11000 guest_ms=8000 phases="init_ms=4000"
HARNESS: t_ms=35 event=bench kind=boot guest=app dhcp=cloud hotplug=vif-bridge run=3 ok=1 why=ok xl_create_ms=2000 first_output_ms=2100 key_ms=2400 ssh_ms=3300 guest_ms=250 phases="xenstore_ms=50"
"""
JUMBO = """\
HARNESS: t_ms=40 event=bench kind=mtu guest=app mtu=9000 vif_mtu=9000 lease_mtu=9000 netfront_mtu=9000
HARNESS: t_ms=41 event=bench kind=tcp guest=app mtu=9000 dir=from_guest bytes=100 s=1 mb_s=40.00
HARNESS: t_ms=42 event=bench kind=tcp guest=linux mtu=9000 dir=from_guest bytes=100 s=1 mb_s=30.00
HARNESS: t_ms=43 event=bench kind=cost guest=app mtu=9000 dir=from_guest port=5002 name=source bytes=4194304 rx_packets=100 tx_packets=50 hypercalls=84 notifies=12 upcalls=36 hypercalls_per_1k_packets=21 notifies_per_1k_packets=3 upcalls_per_1k_packets=9
"""
DENSITY = """\
HARNESS: t_ms=1 event=bench kind=memory guest=app memory_mib=4 ok=1 key=1 ssh=1 why=ok
HARNESS: t_ms=2 event=bench kind=density-setup mem_app=4 mem_linux=80 ns="max"
HARNESS: t_ms=3 event=bench kind=density-mem phase=before fleet=a domains=0 xen_free_mib=100 dom0_avail_kib=500000 xl_procs=0 xl_rss_kib=0
HARNESS: t_ms=4 event=bench kind=density-create-failed fleet=a guest=app n=4 reason="Cannot allocate memory"
HARNESS: t_ms=5 event=bench kind=density-mem phase=after fleet=a domains=3 xen_free_mib=82 dom0_avail_kib=496928 xl_procs=3 xl_rss_kib=3000
HARNESS: t_ms=6 event=bench kind=density-guest fleet=a guest=app name=a-1 start_ms=0 create_ms=1000 key_ms=3000 ssh_ms=4000 fault=0
HARNESS: t_ms=7 event=bench kind=density-guest fleet=a guest=app name=a-2 start_ms=1000 create_ms=2000 key_ms=5000 ssh_ms=7000 fault=1
HARNESS: t_ms=8 event=bench kind=density-guest fleet=a guest=app name=a-3 start_ms=3000 create_ms=3000 key_ms=- ssh_ms=- fault=0
HARNESS: t_ms=9 event=bench kind=density-fleet fleet=a guest=app memory_mib=4 max=1 want=1000 created=3 keyed=2 ssh_ready=2 stop=xl-create-failed create_all_ms=6000 faults=1 triple_faults=1
HARNESS: t_ms=10 event=bench kind=density-guest fleet=l guest=linux name=l-1 start_ms=0 create_ms=4000 key_ms=20000 ssh_ms=25000 fault=0
HARNESS: t_ms=11 event=bench kind=density-fleet fleet=l guest=linux memory_mib=80 max=1 want=64 created=1 keyed=1 ssh_ready=1 stop=xl-create-failed faults=0 triple_faults=0
"""


def report_of(test, log):
    """report.md that main writes for a harness log (asserting it succeeds)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "harness.log")
        with open(path, "w") as f:
            f.write(log)
        test.assertEqual(br.main([path, os.path.join(d, "o")]), 0)
        with open(os.path.join(d, "o", "report.md")) as f:
            return f.read()


class Report(unittest.TestCase):
    def test_parse_keeps_only_bench_records(self):
        recs = br.parse(LOG.splitlines())
        self.assertEqual(len(recs), 14)
        self.assertEqual(recs[0]["kinds"], "app linux")  # quoted values stay whole
        self.assertTrue(all(r["event"] == "bench" for r in recs))

    def test_stats_ignore_non_numbers(self):
        self.assertEqual(br.stats(["3", "-", "1", None, "2"]), {"median": 2, "min": 1, "max": 3, "n": 3})
        self.assertIsNone(br.stats(["-", ""]))
        self.assertEqual(br.stats(["1", "2", "3", "10"])["median"], 2.5)

    def test_summary_counts_failures_and_excludes_them(self):
        s = br.summarize(br.parse(LOG.splitlines()))
        self.assertEqual(s["app"]["boot"]["check"]["key_ms"], {"median": 4000, "min": 3000, "max": 5000, "n": 3})
        self.assertEqual(s["linux"]["boot"]["check"]["failures"], 1)
        self.assertEqual(s["linux"]["boot"]["check"]["key_ms"]["n"], 2)
        self.assertEqual(s["linux"]["boot"]["check"]["key_ms"]["median"], 16000)
        self.assertEqual(s["app"]["min_memory_mib"], 5)
        self.assertEqual(s["app"]["idle_cpu_s"], 0.0)
        self.assertEqual(s["app"]["ping"]["p99_ms"], 9.0)
        self.assertEqual(s["linux"]["tcp"]["1500"]["to_guest"], 20.0)

    def test_table_ratios_are_linux_over_appliance(self):
        s = br.summarize(br.parse(LOG.splitlines()))
        t = br.table(s, {"app_elf": 200000, "linux_kernel": 50000000, "linux_shipped": 12000000})
        row = next(l for l in t.splitlines() if l.startswith("| boot to key"))
        self.assertIn("4.00 (3.00–5.00, n=3)", row)
        self.assertIn("16.00 (15.00–17.00, n=2, 1 failed)", row)
        self.assertTrue(row.rstrip(" |").endswith("4.0x"))
        self.assertIn("| 15.0x |", next(l for l in t.splitlines() if "smallest" in l))
        self.assertIn("| 250.0x |", next(l for l in t.splitlines() if l.startswith("| kernel image")))
        self.assertIn("141 hypercalls, 48 notifications, 100 upcalls", t)

    def test_main_writes_the_files_and_a_baseline_column(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "harness.log")
            open(log, "w").write(LOG)
            self.assertEqual(br.main([log, os.path.join(d, "a")]), 0)
            raw = json.load(open(os.path.join(d, "a", "raw.json")))
            self.assertEqual(len(raw["records"]), 14)
            self.assertEqual(open(os.path.join(d, "a", "raw.csv")).readline().split(",")[:2], ["t_ms", "event"])
            self.assertEqual(br.main([log, os.path.join(d, "b"), "--baseline", os.path.join(d, "a", "raw.json")]), 0)
            with open(os.path.join(d, "b", "report.md")) as f:
                md = f.read()
            self.assertIn("| appliance, before | appliance | Linux PVH |", md)

    def test_base_guest_in_the_same_run_is_the_before_column(self):
        log = LOG + "HARNESS: t_ms=20 event=bench kind=boot guest=base run=1 ok=1 why=ok xl_create_ms=3000 key_ms=9000 guest_ms=6000\n"
        s = br.summarize(br.parse(log.splitlines()))
        self.assertEqual(s["base"]["boot"]["check"]["key_ms"]["median"], 9000)
        row = next(l for l in report_of(self, log).splitlines() if l.startswith("| boot to key"))
        self.assertIn("| 9.00 (9.00–9.00, n=1) | 4.00 (3.00–5.00, n=3) |", row)

    def test_cloud_dhcp_rows_come_first_with_domain_start_ssh_and_phases(self):
        s = br.summarize(br.parse((LOG + CLOUD).splitlines()))
        cloud = s["app"]["boot"]["cloud"]
        # domain start = the end of xl create: key_ms - xl_create_ms per run
        self.assertEqual(cloud["start_to_key_ms"], {"median": 400, "min": 300, "max": 500, "n": 2})
        self.assertEqual(cloud["start_to_ssh_ms"]["median"], 1300)
        self.assertEqual(cloud["ssh_failures"], 1)
        self.assertEqual(cloud["phases"]["address_ms"]["median"], 150)
        self.assertEqual(s["linux"]["boot"]["cloud"]["phases"]["init_ms"]["median"], 4000)
        t = br.table(s, {}).splitlines()
        sections = [l for l in t if l.startswith("| **")]
        self.assertIn("--no-ping", sections[0])
        self.assertIn("3 ARP pings", sections[1])
        start = next(l for l in t if "domain start → key" in l)
        self.assertIn("| 0.40 | 8.00 | 20.0x |", start)
        first_phase = next(l for l in t if "kernel up" in l)
        self.assertIn("| 30 | 4000 | 133.3x |", first_phase)
        store = next(l for l in t if "XenStore connected" in l)
        self.assertIn("| 60 | - | - |", store)
        xs = next(l for l in t if "XenStore requests" in l)
        self.assertIn("| 60 (90) | - |", xs)
        ssh = next(l for l in t if l.startswith("| boot to SSH-ready"))
        self.assertIn("n=1, 1 failed", ssh)
        # the guest's own view of that SSH session: the appliance's only
        session = next(l for l in t if "as the guest saw it" in l)
        self.assertIn("| 420 | - | - |", session)

    def test_targets_say_met_or_not(self):
        s = br.summarize(br.parse((LOG + CLOUD).splitlines()))
        t = br.targets(s)
        self.assertIn("domain start → key, cloud-like DHCP: Linux 8.00 s / appliance 0.40 s = 20.00x (target ≥ 20x: met)", t)
        self.assertIn("SSH-ready, cloud-like DHCP: Linux 12.00 s / appliance 3.30 s = 3.64x (target ≥ 5x: not met)", t)
        self.assertIn("not measured", br.targets(br.summarize(br.parse(LOG.splitlines()))))

    def test_lean_hotplug_is_a_mode_of_its_own_first_with_its_targets(self):
        s = br.summarize(br.parse((LOG + CLOUD + LEAN).splitlines()))
        self.assertEqual(s["app"]["boot"]["cloud+lean"]["runs"], 1)
        # hotplug=vif-bridge is the plain cloud mode
        self.assertEqual(s["app"]["boot"]["cloud"]["runs"], 3)
        sections = [l for l in br.table(s, {}).splitlines() if l.startswith("| **")]
        self.assertIn("vif-lean", sections[0])
        self.assertIn("vif-bridge", sections[1])
        t = br.targets(s)
        self.assertIn("SSH-ready, cloud-like DHCP, vif-lean: Linux 11.00 s / appliance 2.00 s = 5.50x (target ≥ 5x: met)", t)
        self.assertIn("SSH-ready, cloud-like DHCP: Linux 12.00 s / appliance 3.30 s = 3.64x (target ≥ 5x: not met)", t)

    def test_jumbo_rows_per_mtu(self):
        s = br.summarize(br.parse((LOG + JUMBO).splitlines()))
        self.assertEqual(s["app"]["tcp"]["9000"]["from_guest"], 40.0)
        self.assertEqual(s["app"]["tcp"]["1500"]["to_guest"], 10.0)
        t = br.table(s, {}).splitlines()
        i1500 = next(i for i, l in enumerate(t) if "TCP at MTU 1500" in l)
        i9000 = next(i for i, l in enumerate(t) if "TCP at MTU 9000" in l)
        self.assertLess(i1500, i9000)
        jumbo = t[i9000:]
        self.assertIn("vif 9000, lease 9000, netfront 9000", next(l for l in jumbo if "MTU the guest took" in l))
        self.assertIn("| 40.00 | 30.00 | 0.75x |", next(l for l in jumbo if "guest source → dom0" in l))
        # GSO packets are large: the cost per MiB is what compares across MTUs
        self.assertIn("21 hypercalls, 3 notifications, 9 upcalls (150 packets; per MiB 21 / 3 / 9) | not counted",
                      "\n".join(jumbo))

    def test_an_earlier_raw_json_of_the_old_shape_is_a_before_column(self):
        old = {"key_ms": {"median": 7000, "min": 6000, "max": 8000, "n": 5}, "boot_failures": 0,
               "xl_create_ms": {"median": 2000, "min": 2000, "max": 2000, "n": 5}, "tcp_to_guest_mb_s": 5.5,
               "cost_to_guest": {"hypercalls_per_1k_packets": 93}, "min_memory_mib": 5}
        s = br.summarize(br.parse(LOG.splitlines()))
        t = br.table(s, {}, old).splitlines()
        self.assertIn("| 7.00 (6.00–8.00, n=5) | 4.00 (3.00–5.00, n=3) |", next(l for l in t if l.startswith("| boot to key")))
        self.assertIn("| 5.50 | 10.00 |", next(l for l in t if "dom0 → guest sink" in l))
        self.assertIn("| 93 hypercalls", next(l for l in t if "per 1000 packets, dom0 → guest" in l))

    def test_density_fleets_ratio_and_trouble(self):
        ds = br.density(br.parse(DENSITY.splitlines()))
        app, lin = ds["fleets"]
        self.assertEqual((app["created"], app["keyed"], app["ssh_ready"]), (3, 2, 2))
        self.assertEqual(app["last_key_ms"], 5000)
        self.assertEqual(app["last_ssh_ms"], 7000)
        self.assertEqual(app["create_ms"]["median"], 2000)
        self.assertEqual(app["xen_mib_per_guest"], 6.0)
        self.assertEqual(app["dom0_kib_per_guest"], 1024)
        self.assertEqual(app["trouble"], ["a-2", "a-3"])
        f = br.density_findings(ds)
        self.assertIn("`memory = 4`: key fetched, SSH served", f)
        self.assertIn("3 appliances, 1 Linux guests = 3.0x (target ≥ 15x: not met)", f)
        self.assertIn("a stopped at `xl create` 4: Cannot allocate memory", f)
        self.assertIn("a: no key or a trap: a-2 a-3; triple faults in `xl dmesg`: 1", f)
        t = br.density_table(ds)
        self.assertIn("| appliance × as many as fit | 4 | 3 (xl-create-failed) | 2 | 2 | 5.00 | 7.00 |", t)
        md = report_of(self, DENSITY)
        self.assertIn("# Density", md)
        self.assertNotIn("# Bench", md)

    def test_empty_log_is_a_failure(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "harness.log")
            open(log, "w").write("HARNESS: t_ms=1 result=fail\n")
            self.assertEqual(br.main([log, os.path.join(d, "o")]), 1)


if __name__ == "__main__":
    unittest.main()
