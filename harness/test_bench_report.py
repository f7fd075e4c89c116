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
        self.assertEqual(s["app"]["key_ms"], {"median": 4000, "min": 3000, "max": 5000, "n": 3})
        self.assertEqual(s["linux"]["boot_failures"], 1)
        self.assertEqual(s["linux"]["key_ms"]["n"], 2)
        self.assertEqual(s["linux"]["key_ms"]["median"], 16000)
        self.assertEqual(s["app"]["min_memory_mib"], 5)
        self.assertEqual(s["app"]["idle_cpu_s"], 0.0)
        self.assertEqual(s["app"]["ping"]["p99_ms"], 9.0)
        self.assertEqual(s["linux"].get("tcp_to_guest_mb_s"), 20.0)

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
        self.assertEqual(s["base"]["key_ms"]["median"], 9000)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "harness.log")
            with open(path, "w") as f:
                f.write(log)
            self.assertEqual(br.main([path, os.path.join(d, "o")]), 0)
            with open(os.path.join(d, "o", "report.md")) as f:
                md = f.read()
            row = next(l for l in md.splitlines() if l.startswith("| boot to key"))
            self.assertIn("| 9.00 (9.00–9.00, n=1) | 4.00 (3.00–5.00, n=3) |", row)

    def test_empty_log_is_a_failure(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "harness.log")
            open(log, "w").write("HARNESS: t_ms=1 result=fail\n")
            self.assertEqual(br.main([log, os.path.join(d, "o")]), 1)


if __name__ == "__main__":
    unittest.main()
