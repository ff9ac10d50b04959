#!/usr/bin/env python3
"""Headless Chromium for sheaf's browser tests, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: descriptors 3 and 4, NUL-ended JSON), so nothing but Debian's
`chromium` and python3 is needed.

  browser.py URL

opens URL in a new tab, prints {"ready": true}, then reads one command per line on stdin and
prints one JSON answer per line:

  {"eval": "JS expression"}      -> {"value": ...}   (promises awaited)
  {"reload": true}               -> {"ok": true}      (waits for the load event)
  {"screenshot": "path.png"}     -> {"ok": true}
  {"quit": true}                 -> ends
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("browser.py: no chromium on PATH (apt-get install chromium)")


class Browser:
    def __init__(self):
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="sheaf-chromium-")

        def descriptors():
            # Copies first: a pipe end may already be 3 or 4, and dup2 onto itself would keep it
            # closed on exec.
            read, write = os.dup(to_browser_read), os.dup(from_browser_write)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [chromium(), "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-dev-shm-usage",
             "--window-size=1100,1400", f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=descriptors, close_fds=False)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.buffer = b""
        self.next_id = 0
        self.session = None
        self.loaded = False

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("method") == "Page.loadEventFired":
                self.loaded = True
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def wait_load(self):
        while not self.loaded:
            reply = self.read()
            if reply.get("method") == "Page.loadEventFired":
                self.loaded = True

    def open(self, url):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Page.enable")
        self.loaded = False
        self.send("Page.navigate", {"url": url})
        self.wait_load()

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"])[:400])
        return result.get("result", {}).get("value")

    def reload(self):
        self.loaded = False
        self.send("Page.reload")
        self.wait_load()

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def timed_out(_signum, _frame):
    raise RuntimeError("chromium did not answer within 90 s")


def main():
    # A browser that stops answering fails the command (and the test) instead of hanging it.
    signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(90)
    browser = Browser()
    try:
        browser.open(sys.argv[1])
        signal.alarm(0)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            signal.alarm(90)
            try:
                if "eval" in command:
                    answer = {"value": browser.evaluate(command["eval"])}
                elif "reload" in command:
                    browser.reload()
                    answer = {"ok": True}
                elif "screenshot" in command:
                    browser.screenshot(command["screenshot"])
                    answer = {"ok": True}
                elif "quit" in command:
                    break
                else:
                    answer = {"error": "unknown command"}
            except RuntimeError as error:
                answer = {"error": str(error)}
            signal.alarm(0)
            print(json.dumps(answer), flush=True)
    finally:
        signal.alarm(15)
        try:
            browser.close()
        except RuntimeError:
            browser.process.kill()


if __name__ == "__main__":
    main()
