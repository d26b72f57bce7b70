#!/usr/bin/env python3
"""`coagent ui` measured from outside, as a browser sees it.

Prints:
- start-up: from exec of `coagent ui --no-open` to its address on stdout, and to the
  first page served;
- the wall time of each page (`/`, a DO's consent page, a run's page) over --runs
  requests on a hub with one live session, --dos DOs over several replies, and a run;
- the wall time of a refused request (no secret), which is what an attacker's probe costs;
- the server's resident memory (VmRSS, VmHWM) after the requests.

    python3 bench/ui.py [path/to/coagent] [--runs N] [--dos N]

Needs python3 (standard library only) and git. The default binary is
target/release/coagent (`cargo build --release -p coagent-cli`; `CARGO_TARGET_DIR` is
honoured). Everything happens in a fresh temporary folder, deleted at the end.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def request(port, path, cookie=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": f"127.0.0.1:{port}"}
    if cookie:
        headers["Cookie"] = cookie
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Set-Cookie"), r.getheader("Location"), body


def timed(port, path, cookie, runs):
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        status, _, _, body = request(port, path, cookie)
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return status, len(body), ms


def row(name, status, size, ms):
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{name:<28} {status:>4} {size:>8} B  median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms")


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = v.strip()
    return out


def main():
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap = argparse.ArgumentParser()
    ap.add_argument("bin", nargs="?", default=os.path.join(target, "release", "coagent"))
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--dos", type=int, default=30)
    a = ap.parse_args()
    bin_ = os.path.abspath(a.bin)
    root = tempfile.mkdtemp(prefix="coagent-bench-ui-")
    env = dict(os.environ, HOME=root, COAGENT_CLIPBOARD="none", NO_COLOR="1",
               GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.invalid",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.invalid")
    env.pop("COAGENT_SEED", None)
    proj = os.path.join(root, "p")
    os.mkdir(proj)
    run = lambda *args, **kw: subprocess.run([bin_, *args], cwd=proj, env=env, check=True, capture_output=True, **kw)
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    run("init")
    for i in range(3):
        run("todo", "add", f"Task {i}")
    s = json.loads(run("--json", "start", "--vendor", "claude").stdout)
    tag = s["session"][:6]
    per = 5
    last = None
    for k in range(a.dos // per):
        blocks = "".join(f"```bash\n# DO: step {k}.{j}\necho {k}.{j} > out-{k}-{j}.txt\n# END DO\n```\n\n" for j in range(per))
        reply = f"Policy v1.0 loaded.\n\nNext steps.\n\n{blocks}[{tag} t{k + 1}]\n"
        last = json.loads(run("--json", "ingest", "-", input=reply.encode()).stdout)
    run("do", "run", "--all")
    do_id = last["dos"][0]["id"]

    t0 = time.perf_counter()
    ui = subprocess.Popen([bin_, "--json", "ui", "--no-open"], cwd=proj, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        started = json.loads(ui.stdout.readline())
        t_addr = (time.perf_counter() - t0) * 1000
        port = int(re.search(r":(\d+)/", started["url"]).group(1))
        secret = started["url"].split("k=")[1]
        status, cookie, _, _ = request(port, f"/auth?k={secret}")
        cookie = cookie.split(";")[0]
        request(port, "/", cookie)
        t_page = (time.perf_counter() - t0) * 1000
        print(f"binary {bin_}")
        print(f"hub: 1 live session, {a.dos} DOs over {a.dos // per} replies, {per} of them run; {a.runs} requests per row")
        print(f"{'start-up: address printed':<28} {t_addr:7.1f} ms")
        print(f"{'start-up: first page':<28} {t_page:7.1f} ms")
        row("GET / (the whole page)", *timed(port, "/", cookie, a.runs))
        row(f"GET /do/{do_id[:8]}…", *timed(port, f"/do/{do_id}", cookie, a.runs))
        row("GET /plan (run all)", *timed(port, "/plan", cookie, a.runs))
        row("GET / without the secret", *timed(port, "/", None, a.runs))
        m = rss(ui.pid)
        print(f"{'server memory':<28} VmRSS {m.get('VmRSS')}  VmHWM {m.get('VmHWM')}")
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
