#!/usr/bin/env python3
"""sheaf benchmarks: `make bench`. Prints figures and ratios against a named baseline.

Record stream: a 200 MB NDJSON file of realistic records (completed sections with 2-6 KB of
Markdown content, the fields every tool adds, an event every ten records), generated once into
bench/out/. Each command runs REPEAT times; the best wall time counts. Peak memory is the
child's maximum resident set size (from wait4). Baseline: `jq -c .` on the same file.
"""
import os
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release")
OUT = os.path.join(ROOT, "bench", "out")
MEGABYTES = int(os.environ.get("SHEAF_BENCH_MB", "200"))
REPEAT = int(os.environ.get("SHEAF_BENCH_REPEAT", "3"))


def run(argv, stdin_path):
    """Runs argv with stdin from a file and stdout to /dev/null; returns (seconds, peak KB, status)."""
    with open(stdin_path, "rb") as stdin, open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=stdin, stdout=devnull, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss, proc.returncode


def best(argv, path):
    runs = [run(argv, path) for _ in range(REPEAT)]
    seconds = min(r[0] for r in runs)
    peak = max(r[1] for r in runs)
    return seconds, peak, runs[0][2]


def ensure_data(megabytes):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"records-{megabytes}mb.ndjson")
    if not os.path.exists(path) or os.path.getsize(path) < megabytes * 1_000_000:
        with open(path + ".tmp", "wb") as out:
            subprocess.run([os.path.join(BIN, "sheaf-bench"), "gen", "--megabytes", str(megabytes)], stdout=out, check=True)
        os.replace(path + ".tmp", path)
    return path


def main():
    for tool in ("sheaf-bench", "merge-doc"):
        if not os.path.exists(os.path.join(BIN, tool)):
            sys.exit(f"bench: {BIN}/{tool} is missing: run `make build` first")
    jq = shutil.which("jq")
    big = ensure_data(MEGABYTES)
    small = ensure_data(MEGABYTES // 4)
    size_mb = os.path.getsize(big) / 1_000_000
    with open(big, "rb") as f:
        lines = sum(1 for _ in f)
    print(f"record stream: {big} ({size_mb:.0f} MB, {lines} lines); best of {REPEAT} runs")
    print(f"{'command':<34} {'seconds':>8} {'MB/s':>8} {'vs jq':>7} {'peak MB':>8}")
    baseline = None
    if jq:
        seconds, peak, _ = best([jq, "-c", "."], big)
        baseline = size_mb / seconds
        print(f"{'jq -c . (baseline)':<34} {seconds:8.2f} {baseline:8.1f} {1.0:6.2f}x {peak / 1024:8.1f}")
    else:
        print("jq -c . (baseline)                 not installed: apt-get install jq to compare")
    rows = [
        ("sheaf-bench cat (reader+writer)", [os.path.join(BIN, "sheaf-bench"), "cat"]),
        ("merge-doc -q", [os.path.join(BIN, "merge-doc"), "-q"]),
    ]
    for name, argv in rows:
        seconds, peak, status = best(argv, big)
        rate = size_mb / seconds
        ratio = f"{rate / baseline:6.2f}x" if baseline else "     -"
        print(f"{name:<34} {seconds:8.2f} {rate:8.1f} {ratio} {peak / 1024:8.1f}")
    print()
    print(f"memory against input size ({MEGABYTES // 4} MB vs {MEGABYTES} MB):")
    for name, argv in rows:
        _, small_peak, _ = best(argv, small)
        _, big_peak, _ = best(argv, big)
        print(f"  {name:<32} {small_peak / 1024:7.1f} MB -> {big_peak / 1024:7.1f} MB ({big_peak / small_peak:.2f}x for 4x the input)")


if __name__ == "__main__":
    main()
