#!/usr/bin/env python3
"""sheaf benchmarks: `make bench`. Prints figures and ratios against a named baseline.

Record stream: a 200 MB NDJSON file of realistic records (completed sections with 2-6 KB of
Markdown content, the fields every tool adds, an event every ten records), generated once into
bench/out/. Each command runs REPEAT times; the best wall time counts. Peak memory is the
child's maximum resident set size (from wait4). Baseline: `jq -c .` on the same file.
"""
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SHEAF_BENCH_BIN", os.path.join(ROOT, ".build", "release"))
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


def records_file(count):
    path = os.path.join(OUT, f"prompts-{count}.ndjson")
    with open(path, "w") as out:
        for i in range(1, count + 1):
            out.write(json.dumps({"doc": "bench", "id": f"s{i:04d}", "title": f"Section {i}", "order": i, "status": "pending",
                                  "messages": [{"role": "system", "content": "You write clear prose."},
                                               {"role": "user", "content": f"Write section {i} of the benchmark document."}]}) + "\n")
    return path


def run_call(args, path):
    """Runs call-llm; returns (wall seconds, CPU seconds, peak KB, output lines)."""
    with open(path, "rb") as stdin:
        start = time.perf_counter()
        proc = subprocess.Popen([os.path.join(BIN, "call-llm")] + args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out.count(b"\n")


def bench_call_llm():
    stub = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Stub", "stub_server.py"), "--max-seconds", "1800"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    port = int(stub.stdout.readline().split()[1])
    ttfb, tokens, tps = 1.0, 100, 200.0
    per_request = ttfb + tokens / tps
    url = f"http://127.0.0.1:{port}/s/ttfb={ttfb},tps={int(tps)},words={tokens}/v1"
    full = os.environ.get("SHEAF_BENCH_FULL") == "1"
    print()
    print(f"call-llm against the stub: {ttfb:.0f} s to first token, then {tokens} tokens at {tps:.0f} tokens/s "
          f"({per_request} s a request); baseline: the ideal ceil(n/j) x {per_request} s")
    print(f"{'run':<28} {'records':>7} {'wall s':>8} {'ideal s':>8} {'ratio':>6} {'CPU ms/req':>10} {'peak MB':>8}")
    base = ["--provider", "openai", "--model", "bench", "--base-url", url, "--no-cache"]
    for jobs, count in ((1, 200 if full else 20), (16, 200), (64, 200), (64, 800)):
        path = records_file(count)
        wall, cpu, peak, lines = run_call(base + ["-j", str(jobs)], path)
        ideal = -(-count // jobs) * per_request
        note = "" if lines == count else f"  ({lines} records written!)"
        print(f"{'-j ' + str(jobs):<28} {count:>7} {wall:8.2f} {ideal:8.2f} {wall / ideal:6.3f} {cpu / count * 1000:10.2f} {peak / 1024:8.1f}{note}")
    if not full:
        print("  (-j 1 runs 20 records; SHEAF_BENCH_FULL=1 runs all 200, about five minutes)")
    cache = os.path.join(OUT, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    path = records_file(200)
    cached = ["--provider", "openai", "--model", "bench", "--base-url", url, "--cache", cache, "-j", "64"]
    run_call(cached, path)
    wall, cpu, peak, lines = run_call(cached + ["--cache-only"], path)
    print(f"{'--cache-only replay':<28} {lines:>7} {wall:8.3f} {'':>8} {'':>6} {cpu / max(lines, 1) * 1000:10.2f} {peak / 1024:8.1f}")
    stub.stdin.close()
    stub.wait()


def bench_build_prompt():
    """10,000 sections, each with a 2 KB section of context (from 100 completed sections)."""
    import random
    random.seed(1)
    ctx = os.path.join(OUT, "ctx")
    os.makedirs(ctx, exist_ok=True)
    words = "dispatchers technicians schedule routes customers board jobs parts offline messages".split()
    for i in range(100):
        text = " ".join(random.choice(words) for _ in range(330))[:2048]
        with open(os.path.join(ctx, f"c{i:03d}.json"), "w") as f:
            json.dump({"id": f"c{i:03d}", "title": f"Context {i}", "order": i + 1, "status": "completed", "content": text}, f)
    outline = [{"id": f"c{i:03d}", "title": f"Context {i}", "description": "A section.", "order": i + 1} for i in range(12)]

    def records(count):
        path = os.path.join(OUT, f"planned-{count}.ndjson")
        with open(path, "w") as out:
            for i in range(count):
                out.write(json.dumps({"doc": "prd", "doc_title": "Bench PRD", "id": f"s{i:05d}", "title": f"Section {i}",
                                      "description": "Describe the thing in detail.", "order": 200 + i, "stage": 2,
                                      "depends_on": [f"c{i % 100:03d}"], "context": [], "template": "functional_requirements",
                                      "format": {"type": "markdown", "min_words": 200, "max_words": 500}, "prompt_set": "prd",
                                      "outline": outline, "inputs": {"requirements": "Build a scheduling product. " * 20, "audience": "leads"},
                                      "status": "pending"}) + "\n")
        return path

    argv = [os.path.join(BIN, "build-prompt"), "--context", ctx]
    print()
    print("build-prompt: 10,000 sections of the PRD set, each with a 2 KB section of context; goal 5,000 records/s")
    small, big = records(2500), records(10000)
    seconds, peak, status = best(argv, big)
    _, small_peak, _ = best(argv, small)
    print(f"  {10000 / seconds:,.0f} records/s ({seconds:.2f} s), peak {peak / 1024:.1f} MB; "
          f"memory {small_peak / 1024:.1f} MB at 2,500 records -> {peak / 1024:.1f} MB at 10,000")


def bench_validate_format():
    """10,000 Markdown answers of 800 words; 10,000 JSON answers against a 20-keyword schema."""
    import random
    random.seed(2)
    words = ("the dispatcher sees every technician on one board and drags jobs between them while the route "
             "updates and the customer gets a two hour window by text message").split()
    markdown_format = {"type": "markdown", "min_words": 600, "max_words": 1000, "required_headings": ["Scope"],
                       "max_heading_level": 3, "forbid_leading_title": True}
    md = os.path.join(OUT, "validate-md.ndjson")
    with open(md, "w") as out:
        for i in range(10000):
            paragraphs = []
            for _ in range(8):
                paragraphs.append(" ".join(random.choice(words) for _ in range(100)) + ".")
            content = "### Scope\n\n" + "\n\n".join(paragraphs[:4]) + "\n\n- one point\n- another point\n\n" + "\n\n".join(paragraphs[4:])
            out.write(json.dumps({"id": f"s{i:05d}", "title": f"Section {i}", "status": "completed", "format": markdown_format, "content": content}) + "\n")
    schema = {"type": "object", "required": ["title", "items", "owner"], "additionalProperties": False,
              "properties": {"title": {"type": "string", "minLength": 3, "maxLength": 80, "pattern": "^[A-Z]"},
                             "owner": {"enum": ["pm", "eng", "design"]},
                             "items": {"type": "array", "minItems": 1, "maxItems": 20, "uniqueItems": True,
                                       "items": {"type": "object", "required": ["name", "price"],
                                                 "properties": {"name": {"type": "string"}, "price": {"type": "number", "minimum": 0, "multipleOf": 0.01},
                                                                "tags": {"type": "array", "items": {"type": "string"}}}}},
                             "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    js = os.path.join(OUT, "validate-json.ndjson")
    with open(js, "w") as out:
        for i in range(10000):
            data = {"title": f"Quote {i}", "owner": "pm", "notes": None,
                    "items": [{"name": f"part {k}", "price": round(random.random() * 100, 2), "tags": ["a", "b"]} for k in range(5)]}
            out.write(json.dumps({"id": f"j{i:05d}", "status": "completed", "format": {"type": "json", "schema": schema},
                                  "content": "```json\n" + json.dumps(data) + "\n```"}) + "\n")
    argv = [os.path.join(BIN, "validate-format")]
    print()
    print("validate-format: 10,000 answers each; goals 2,000 Markdown records/s and 10,000 JSON records/s")
    for name, path in (("Markdown, 800 words, 5 rules", md), ("JSON, fenced, 20-keyword schema", js)):
        seconds, peak, status = best(argv, path)
        print(f"  {name:<34} {10000 / seconds:10,.0f} records/s ({seconds:.2f} s), peak {peak / 1024:.1f} MB")


def start_stub():
    """The stub server (Tests/Stub) on a free port: the process and the port."""
    stub = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests", "Stub", "stub_server.py"), "--max-seconds", "600"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return stub, int(stub.stdout.readline().split()[1])


def stub_stats(port):
    """What the stub has counted."""
    import urllib.request
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())


def bench_staged():
    """The detailed PRD through make against the stub at 1 s a request, J=8."""
    stub, port = start_stub()
    url = f"http://127.0.0.1:{port}/s/ttfb=1,words=300/v1"
    runs = os.path.join(OUT, "runs")
    shutil.rmtree(runs, ignore_errors=True)

    def stats():
        return stub_stats(port)

    def make():
        argv = ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"), f"SHEAF_BIN={BIN}", "SHEAF_TOOLS=",
                f"RUNS={runs}", "PROVIDER=openai", "MODEL=bench", f"BASE_URL={url}", "J=8", "CALL_FLAGS=--no-cache",
                "doc", "PLAN=pipelines/prd/plan.json"]
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return time.perf_counter() - start

    wall = make()
    first = stats()["requests"]
    again = make()
    second = stats()["requests"] - first
    ideal, sequential = 6.0, 12.0
    print()
    print("staged run: the detailed PRD (12 sections, 3 stages) with make J=8 against the stub at 1 s a request")
    print(f"  wall {wall:.2f} s · critical path {ideal:.0f} s (4 + 1 + 1 requests) · all sequential {sequential:.0f} s")
    print(f"  ratio to the critical path {wall / ideal:.3f} · speed-up over sequential {sequential / wall:.2f}x · {first} requests")
    print(f"  re-run with everything finished: {again:.2f} s, {second} requests")
    stub.stdin.close()
    stub.wait()


def bench_startup():
    """Start-up of each tool (`--version`): a staged run starts six tools a section, so this is on
    its critical path. Median wall and CPU time of 60 runs each, against /bin/true (the cost of
    starting any process here) as the named baseline."""
    runs = int(os.environ.get("SHEAF_BENCH_STARTS", "60"))

    def measure(argv):
        walls, cpus, peaks = [], [], []
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, usage = os.wait4(proc.pid, 0)
            walls.append(time.perf_counter() - start)
            cpus.append(usage.ru_utime + usage.ru_stime)
            peaks.append(usage.ru_maxrss / 1024)
        walls.sort()
        cpus.sort()
        return walls[len(walls) // 2], cpus[len(cpus) // 2], max(peaks)

    print()
    print(f"start-up: `TOOL --version`, median of {runs} runs (release build), against /bin/true (baseline)")
    print(f"  {'command':<18} {'wall ms':>8} {'cpu ms':>8} {'peak MB':>8} {'wall vs true':>13}")
    base_wall, base_cpu, base_peak = measure(["/bin/true"])
    print(f"  {'/bin/true':<18} {base_wall * 1000:8.2f} {base_cpu * 1000:8.2f} {base_peak:8.1f} {1.0:12.2f}x")
    for tool in ("plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc", "sheaf-run"):
        wall, cpu, peak = measure([os.path.join(BIN, tool), "--version"])
        print(f"  {tool:<18} {wall * 1000:8.2f} {cpu * 1000:8.2f} {peak:8.1f} {wall / base_wall:12.2f}x")


def scale_plan(count):
    """A plan of `count` sections in stages of 100: each section depends on the one before it in its
    stage and on the first of the stage before, offline."""
    path = os.path.join(OUT, f"scale-{count}.json")
    sections = []
    for i in range(count):
        deps = []
        if i % 100:
            deps.append(f"s{i - 1}")
        elif i:
            deps.append(f"s{i - 100}")
        sections.append({"id": f"s{i}", "title": f"Section {i}", "description": "What this section covers, in a sentence or two.",
                         "depends_on": deps})
    with open(path, "w") as f:
        json.dump({"id": f"scale{count}", "title": "Scale", "llm": {"provider": "offline"}, "prompt_set": "blog", "inputs": {"brief": "A plan for measuring scale."},
                   "sections": sections}, f)
    return path


def timed(argv, cwd=ROOT):
    """Runs argv once; returns (seconds, peak MB, status)."""
    with open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=devnull, stderr=devnull)
        _, status, usage = os.wait4(proc.pid, 0)
        return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def bench_scale():
    """Plans of 200, 2,000 and 10,000 sections, offline: time and peak memory per tool, and the time
    per section against the 200-section plan (1.00 means linear)."""
    os.makedirs(OUT, exist_ok=True)
    sizes = [int(n) for n in os.environ.get("SHEAF_BENCH_SCALE", "200,2000,10000").split(",")]
    whole_run_max = int(os.environ.get("SHEAF_BENCH_SCALE_RUN_MAX", "2000"))
    runs = os.path.join(OUT, "scale-runs")
    shutil.rmtree(runs, ignore_errors=True)
    print()
    print("scale: plans of n sections (stages of 100 in chains), offline; per-section time against n=200 (baseline)")
    print(f"  {'step':<34} {'n':>6} {'seconds':>8} {'peak MB':>8} {'per-section vs 200':>19}")
    base = {}
    for count in sizes:
        plan = scale_plan(count)
        steps = [
            ("plan-sections (records)", [os.path.join(BIN, "plan-sections"), plan]),
            ("plan-sections --emit make", [os.path.join(BIN, "plan-sections"), "--emit", "make", plan]),
            ("plan-sections --affected-by s0", [os.path.join(BIN, "plan-sections"), "--affected-by", "s0", plan]),
            ("sheaf-run prepare", [os.path.join(BIN, "sheaf-run"), "prepare", "--plan", plan, "--runs", runs]),
            ("sheaf-run status", [os.path.join(BIN, "sheaf-run"), "status", "--run", os.path.join(runs, f"scale{count}")]),
        ]
        if count <= whole_run_max:
            steps.append(("make doc (J=2, offline)", ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"),
                                                     f"SHEAF_BIN={BIN}", "SHEAF_TOOLS=", f"RUNS={runs}", "J=2", "CALL_FLAGS=--no-cache",
                                                     "doc", f"PLAN={plan}"]))
            steps.append(("sheaf-run status (after the run)", steps[4][1]))
        for name, argv in steps:
            seconds, peak, status = timed(argv)
            per = seconds / count
            base.setdefault(name, per)
            note = "" if status == 0 else f"  (exit {status})"
            print(f"  {name:<34} {count:>6} {seconds:8.2f} {peak:8.1f} {per / base[name]:18.2f}x{note}")


def bench_hostile_markdown():
    """validate-format on 4 MB sections of pathological Markdown: peak memory as a multiple of the
    input (target: 20x; cmark alone took about 230x on `*_` repeated) and seconds."""
    os.makedirs(OUT, exist_ok=True)
    print()
    print("hostile markdown: validate-format on 4 MB of one pattern, peak memory against the input (target 20x)")
    print(f"  {'pattern':<14} {'seconds':>8} {'peak MB':>8} {'x input':>8}")
    for pattern in ["*_", "[", "<a", "\\*", "`", "a *b* ", "abcdefgh* ", "- a\n", "# h\n"]:
        text = pattern * (4_000_000 // len(pattern))
        path = os.path.join(OUT, "hostile.ndjson")
        with open(path, "w") as f:
            f.write(json.dumps({"id": "a", "status": "completed", "content": text,
                                "format": {"type": "markdown", "min_words": 1}}) + "\n")
        size = os.path.getsize(path)
        with open(path, "rb") as stdin, open(os.devnull, "wb") as devnull:
            start = time.perf_counter()
            proc = subprocess.Popen([os.path.join(BIN, "validate-format")], stdin=stdin, stdout=devnull,
                                    stderr=devnull)
            _, _, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
        peak = usage.ru_maxrss * 1024
        print(f"  {pattern.encode('unicode_escape').decode():<14} {seconds:8.2f} {peak / 2**20:8.1f} {peak / size:7.1f}x")


def bench_recheck():
    """`make doc` with nothing to do (every section up to date: the fingerprints are checked, no
    request is made), for the 12-section PRD and a 1,000-section plan, offline; median of 3 against
    the targets (0.5 s and 5 s)."""
    os.makedirs(OUT, exist_ok=True)
    runs = os.path.join(OUT, "recheck-runs")
    shutil.rmtree(runs, ignore_errors=True)
    count = int(os.environ.get("SHEAF_BENCH_RECHECK_N", "1000"))
    print()
    print("re-check: make doc with nothing to do (fingerprints checked, no request), median of 3, against the target")
    print(f"  {'plan':<26} {'sections':>8} {'first run s':>12} {'no-op s':>8} {'target s':>9} {'vs target':>10}")
    for name, plan, sections, target in (
        ("pipelines/prd/plan.json", os.path.join(ROOT, "pipelines", "prd", "plan.json"), 12, 0.5),
        (f"scale-{count}.json", scale_plan(count), count, 5.0),
    ):
        argv = ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"), f"SHEAF_BIN={BIN}", "SHEAF_TOOLS=",
                f"RUNS={runs}", "J=2", f"CALL_FLAGS=--cache {os.path.join(OUT, 'recheck-cache')}", "doc", f"PLAN={plan}"]
        first, _, status = timed(argv)
        times = sorted(timed(argv)[0] for _ in range(3))
        note = "" if status == 0 else f"  (first run exit {status})"
        print(f"  {name:<26} {sections:>8} {first:12.2f} {times[1]:8.2f} {target:9.1f} {times[1] / target:9.2f}x{note}")


def bench_docs():
    """make docs of n rows of the 12-section PRD, offline, J=4: the first run, the second (every
    document unchanged: nothing asked), and one changed row; time and memory per document against
    n=20 (baseline; 1.00 means linear)."""
    os.makedirs(OUT, exist_ok=True)
    sizes = [int(n) for n in os.environ.get("SHEAF_BENCH_DOCS", "20,200").split(",")]
    print()
    print("many documents: make docs of n rows x the 12-section PRD, offline, J=4; per-document time against n=20 (baseline)")
    print(f"  {'run':<30} {'n':>5} {'seconds':>8} {'s/doc':>7} {'peak MB':>8} {'per-doc vs 20':>14}")
    base = {}
    for count in sizes:
        folder = os.path.join(OUT, f"docs-{count}")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        rows = os.path.join(folder, "rows.csv")
        def write_rows(changed=None):
            with open(rows, "w") as f:
                f.write("product,audience\n")
                for i in range(count):
                    audience = "the team that changed" if i == changed else f"the team of product {i}"
                    f.write(f"product-{i},{audience}\n")
        write_rows()
        argv = ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"), f"SHEAF_BIN={BIN}", "SHEAF_TOOLS=",
                f"RUNS={os.path.join(folder, 'runs')}", "J=4", "PROVIDER=offline", "CALL_FLAGS=--no-cache", "docs",
                f"PLAN={os.path.join(ROOT, 'pipelines', 'prd', 'plan.json')}", f"ROWS={rows}", "DOC_ID=product"]
        for name in ["first make docs", "second (unchanged)", "one row changed"]:
            if name == "one row changed":
                write_rows(changed=count // 2)
            seconds, peak, status = timed(argv)
            per = seconds / count
            base.setdefault(name, per)
            note = "" if status == 0 else f"  (exit {status})"
            print(f"  {name:<30} {count:>5} {seconds:8.2f} {per:7.3f} {peak:8.1f} {per / base[name]:13.2f}x{note}")


def bench_docs_rate():
    """20 documents of a three-section plan (pitch, then a detail that builds on it; a FAQ) at J=16
    against the stub limiting 30 requests a minute with OpenAI's headers: the 429s earned
    (0 is the target) and the wall time against what the limit allows (60 requests: the second
    window's start plus one request)."""
    stub, port = start_stub()
    url = f"http://127.0.0.1:{port}/s/limit=30:60,ttfb=0.3,words=40/v1"
    folder = os.path.join(OUT, "docs-rate")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "prompts", "brief"))
    with open(os.path.join(folder, "plan.json"), "w") as f:
        json.dump({"id": "brief", "title": "Brief", "prompt_set": "brief", "inputs": {"product": ""},
                   "sections": [{"id": "pitch", "title": "Pitch"}, {"id": "detail", "title": "Detail", "depends_on": ["pitch"]},
                                {"id": "faq", "title": "FAQ"}]}, f)
    with open(os.path.join(folder, "prompts", "brief", "shared_context.mustache"), "w") as f:
        f.write("You write one brief.\n")
    with open(os.path.join(folder, "prompts", "brief", "default.mustache"), "w") as f:
        f.write("Write the {{section.title}} of the brief for {{doc.inputs.product}}.{{#context}}\n\n{{content}}{{/context}}\n")
    with open(os.path.join(folder, "rows.csv"), "w") as f:
        f.write("product\n" + "".join(f"product {i}\n" for i in range(20)))
    argv = ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"), f"SHEAF_BIN={BIN}", "SHEAF_TOOLS=",
            f"RUNS={os.path.join(folder, 'runs')}", "PROVIDER=openai", "MODEL=bench", f"BASE_URL={url}", "J=16",
            "CALL_FLAGS=--no-cache --retries 0", "docs", f"PLAN={os.path.join(folder, 'plan.json')}",
            f"ROWS={os.path.join(folder, 'rows.csv')}", "DOC_ID=product"]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    stats = stub_stats(port)
    allowed = 60.0 + 0.3
    print()
    print("many documents under a rate limit: 20 documents x 3 sections at J=16, the stub allowing 30 requests a minute")
    print(f"  wall {wall:.2f} s · the limit allows {allowed:.1f} s · ratio {wall / allowed:.2f} · {stats['requests']} requests · "
          f"{stats.get('limited', 0)} answered 429 · exit {done.returncode}")
    stub.stdin.close()
    stub.wait()


def bench_docs_batch():
    """20 PRDs (12 sections each) through the stub's batch APIs, both providers, against the same
    documents asked directly: batches sent against waves (one batch per wave is the target), the
    cost (half is the target), the wall time with the stub answering each batch 1 s after it is
    sent and polled every 0.5 s."""
    stub, port = start_stub()
    folder = os.path.join(OUT, "docs-batch")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    with open(os.path.join(folder, "rows.csv"), "w") as f:
        f.write("product,requirements\n" + "".join(f"p{i},Build product {i} for people who need it\n" for i in range(20)))
    print()
    print("provider batch APIs: 20 PRDs x 12 sections at J=16, each batch answered 1 s after it is sent, against the same asked directly")
    for provider in ("openai", "anthropic"):
        url = f"http://127.0.0.1:{port}/s/words=300,batch_delay=1" + ("/v1" if provider == "openai" else "")
        totals = {}
        for mode in ("batch", "direct"):
            runs = os.path.join(folder, f"{provider}-{mode}")
            urllib_reset(port)
            argv = ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"), f"SHEAF_BIN={BIN}",
                    "SHEAF_TOOLS=", f"RUNS={runs}", f"PROVIDER={provider}", "MODEL=bench", f"BASE_URL={url}", "J=16",
                    "CALL_FLAGS=--no-cache --retries 0", "docs", "PLAN=pipelines/prd/plan.json",
                    f"ROWS={os.path.join(folder, 'rows.csv')}", "DOC_ID=product"] + (["BATCH=1"] if mode == "batch" else [])
            env = dict(os.environ, SHEAF_BATCH_POLL="0.5",
                       SHEAF_PRICES=os.path.join(folder, "prices.json"))
            with open(env["SHEAF_PRICES"], "w") as f:
                json.dump({"bench": {"input": 3, "output": 15}}, f)
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            wall = time.perf_counter() - start
            cost, ready = 0.0, 0
            for doc in os.listdir(runs):
                summary = os.path.join(runs, doc, "summary.json")
                if os.path.exists(summary):
                    with open(summary) as f:
                        ready += json.load(f).get("status") == "ready"
                for name in os.listdir(os.path.join(runs, doc, "sections")) if os.path.isdir(os.path.join(runs, doc, "sections")) else []:
                    if name.endswith(".json"):
                        with open(os.path.join(runs, doc, "sections", name)) as f:
                            cost += json.load(f).get("cost") or 0
            stats = stub_stats(port)
            waves = {}
            if mode == "batch":
                with open(os.path.join(runs, "prd.set", "all", "batch", "waves.json")) as f:
                    waves = json.load(f)
            totals[mode] = (wall, cost, ready, stats, waves, done.returncode)
        (bw, bc, br, bs, bwv, bx), (dw, dc, dr, ds, _, dx) = totals["batch"], totals["direct"]
        print(f"  {provider:<9} batch: {br} ready, {len(bs['batches'])} batches in {bwv.get('waves')} waves, "
              f"{bs['batch_items']} requests ({bs['batch_repeats']} sent twice), {bs['requests']} direct, ${bc:.4f}, {bw:.1f} s, exit {bx}")
        print(f"  {'':<9} direct: {dr} ready, {ds['requests']} requests, ${dc:.4f}, {dw:.1f} s, exit {dx} · "
              f"cost ratio batch/direct {bc / dc if dc else 0:.3f}")
    stub.stdin.close()
    stub.wait()


def urllib_reset(port):
    """Clears the stub's counts."""
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/reset", method="POST")).read()


if __name__ == "__main__":
    only = [a for a in sys.argv[1:] if a.startswith("--only-")]
    if not only:
        main()
    if not only or "--only-build-prompt" in only:
        bench_build_prompt()
    if not only or "--only-validate-format" in only:
        bench_validate_format()
    if not only or "--only-call-llm" in only:
        bench_call_llm()
    if not only or "--only-startup" in only:
        bench_startup()
    if not only or "--only-staged" in only:
        bench_staged()
    if not only or "--only-scale" in only:
        bench_scale()
    if not only or "--only-hostile" in only:
        bench_hostile_markdown()
    if not only or "--only-recheck" in only:
        bench_recheck()
    if not only or "--only-docs" in only:
        bench_docs()
    if not only or "--only-docs-rate" in only:
        bench_docs_rate()
    if not only or "--only-docs-batch" in only:
        bench_docs_batch()
