#!/usr/bin/env python3
"""kvmscope export's HTTP side on this machine, on loopback: command line
checks, every response code, keep-alive and pipelining, content
negotiation, gzip, build_info and the process_* metrics against /proc,
--listen :PORT, many concurrent scrapes and idle or trickling clients while
collection keeps its schedule, the no-BPF path, and SIGINT/SIGTERM.
(VM values are checked in the lab: tests/lab/export/.)
One PASS/FAIL line per check; prints the measured figures."""
import gzip
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# KVMSCOPE_BIN: another build of it, e.g. with sanitizers (make SANITIZE=1).
KVMSCOPE = os.environ.get("KVMSCOPE_BIN", os.path.join(ROOT, "build", "bin", "kvmscope"))
failed = 0


def result(ok, what, detail=""):
    global failed
    print(f"PASS export-http: {what}" if ok else f"FAIL export-http: {what}: {detail}")
    failed += 0 if ok else 1


def start(*args, user=None):
    cmd = [KVMSCOPE, "export", "--listen", "127.0.0.1:0", *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)/metrics", line)
    if not m:
        p.kill()
        raise RuntimeError(f"export did not start: {line!r} {p.stderr.read()!r}")
    return p, int(m.group(1))


def wait_end(p, timeout=5):
    """p's exit status, or "hang" (and p killed) after timeout."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return "hang"


def request(port, raw, timeout=5.0, source=None):
    """Sends raw bytes (from address source, if given), returns everything
    received until the server closes or timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(raw)
    data = read_all(s, (socket.timeout, ConnectionResetError))
    s.close()
    return data


def read_all(s, stop_on=()):
    """What socket s receives until the server closes it; an exception in
    stop_on ends the reading too."""
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except stop_on:
        pass
    return data


def get(port, path="/metrics", headers=(), method="GET"):
    """One request with Connection: close: (status, headers dict, body)."""
    raw = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    raw += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    return split(request(port, raw.encode()))


def split(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    return status, hdrs, body


def timeouts_at_least(port, n, wait=5.0):
    """The timeout count on the exporter's page once it reaches n, or the
    last one seen after `wait` seconds (a match object, or None)."""
    end = time.monotonic() + wait
    while True:
        _, _, body = get(port)
        m = re.search(rb'^kvmscope_export_http_rejected_total\{reason="timeout"\} (\d+)$', body, re.M)
        if (m and int(m.group(1)) >= n) or time.monotonic() > end:
            return m
        time.sleep(0.1)


def metric(body, name):
    m = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    return float(m.group(1)) if m else None


def cli_checks():
    for args, what in ((["--listen", "0.0.0.0:9464"], "0.0.0.0 without --allow-remote"),
                       (["--listen", "10.1.2.3:1"], "a non-loopback address"),
                       (["--listen", "[::]:1"], "IPv6 any without --allow-remote"),
                       (["--listen", ":9464"], ":PORT (every address) without --allow-remote"),
                       (["--listen", "localhost"], "a missing port"),
                       (["--listen", "127.0.0.1:65536"], "port 65536"),
                       (["--listen", "example.org:80"], "a host name"),
                       (["-i", "1ms"], "an interval below 10ms"),
                       (["--json"], "an option of another command")):
        p = subprocess.run([KVMSCOPE, "export", *args], capture_output=True, text=True, timeout=10)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        result(p.returncode == 2 and len(lines) >= 1 and lines[0].startswith("kvmscope"), f"{what}: exit 2",
               f"status {p.returncode}, stderr {p.stderr!r}")
    # This test's own process: inspectable, and no VMM.
    p = subprocess.run([KVMSCOPE, "export", "-p", str(os.getpid())], capture_output=True, text=True,
                       timeout=10)
    result(p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and "not a VMM" in p.stderr,
           "-p of a process that is not a VMM: one line, exit 1", f"{p.returncode} {p.stderr!r}")
    p = subprocess.run([KVMSCOPE, "export", "--listen", "10.1.2.3:1"], capture_output=True, text=True)
    result(len(p.stderr.strip().splitlines()) == 1 and "--allow-remote" in p.stderr,
           "non-loopback refusal is one line naming --allow-remote", p.stderr)
    p = subprocess.run([KVMSCOPE, "export", "--help"], capture_output=True, text=True)
    opts = ["--listen", "--allow-remote", "--pid", "--interval", "--verbose"]
    result(p.returncode == 0 and all(o in p.stdout for o in opts), "--help lists every option",
           p.stdout[:300])


def http_checks(port):
    st, h, body = get(port)
    result(st == 200 and h.get("content-type") == "text/plain; version=0.0.4; charset=utf-8"
           and int(h.get("content-length", -1)) == len(body) and b"# TYPE kvmscope_bpf_attached gauge" in body,
           "GET /metrics: 200, text format 0.0.4, exact Content-Length", f"{st} {h}")
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
    result(p.returncode == 0, "promtool check metrics accepts the page", (p.stdout + p.stderr).decode()[:300])
    accept = ("Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    st, h, body = get(port, headers=[accept])
    result(st == 200 and h.get("content-type") == "application/openmetrics-text; version=1.0.0; charset=utf-8"
           and body.endswith(b"# EOF\n"), "Prometheus' Accept header gets OpenMetrics 1.0.0 with # EOF",
           f"{h.get('content-type')} {body[-20:]!r}")
    for acc, om in (("text/plain;version=0.0.4", False), ("application/openmetrics-text;version=0.0.1", False),
                    ("application/openmetrics-text;q=0.2,text/plain;q=0.9", False),
                    ("application/json", False), ("application/openmetrics-text", True)):
        st, h, body = get(port, headers=[f"Accept: {acc}"])
        result(st == 200 and h.get("content-type", "").startswith("application/openmetrics-text") == om,
               f"Accept '{acc}' -> {'OpenMetrics' if om else 'text'}", h.get("content-type"))
    st, h, body = get(port, method="HEAD")
    result(st == 200 and body == b"" and int(h.get("content-length", 0)) > 0, "HEAD: headers only",
           f"{st} {h} {len(body)}")
    st, h, body = get(port, "/metrics?x=1")
    result(st == 200, "a query string is ignored", str(st))
    st, h, body = get(port, "/nope")
    result(st == 404, "unknown path: 404", str(st))
    st, h, body = get(port, method="POST")
    result(st == 405 and h.get("allow") == "GET, HEAD", "POST: 405 with Allow", f"{st} {h}")
    st, h, body = split(request(port, b"HELLO\r\n\r\n"))
    result(st == 400, "garbage request line: 400", str(st))
    st, h, body = split(request(port, b"GET /metrics HTTP/2.0\r\n\r\n"))
    result(st == 400, "unsupported HTTP version: 400", str(st))
    st, h, body = split(request(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000))
    result(st == 431, "request head over 8 KiB: 431", str(st))
    st, h, body = split(request(port, b"GET /metrics HTTP/1.1\r\nX: \x00\r\n\r\n"))
    result(st == 400, "NUL in the request head: 400", str(st))
    # keep-alive and pipelining: two requests in one send, two responses
    data = request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
    result(data.count(b"HTTP/1.1 200 OK") == 1 and data.count(b"HTTP/1.1 404") == 1,
           "pipelined requests on one keep-alive connection answered in order", data[:80])
    data = request(port, b"GET /metrics HTTP/1.0\r\n\r\n", timeout=3)
    result(b"Connection: close" in data, "HTTP/1.0 without keep-alive: closed after the response", data[:120])


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        return "hang"


def labels(body, name):
    m = re.search(rf"^{name}\{{(.*)\}} \S+$", body.decode(), re.M)
    return dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))) if m else None


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def ageless(page):
    """A page without its age line, the one line that differs between two
    requests for the same page."""
    return re.sub(rb"^kvmscope_export_page_age_seconds \S+\n", b"", page, flags=re.M)


def gzip_self_checks():
    """An exporter that collects once an hour serves one page all along:
    gzip and plain forms of it can be compared byte for byte, but for the
    page's age, which is written as each request is served."""
    p, port = start("-i", "1h")
    try:
        st, h, plain = get(port)
        st2, h2, z = get(port, headers=["Accept-Encoding: gzip, deflate, br"])
        try:
            unz = gzip.decompress(z)
        except OSError as e:
            unz = repr(e).encode()
        result(st == 200 and "content-encoding" not in h and h.get("vary") == "Accept-Encoding",
               "no Accept-Encoding: the page as it is, with Vary: Accept-Encoding", f"{st} {h}")
        result(st2 == 200 and h2.get("content-encoding") == "gzip" and int(h2["content-length"]) == len(z)
               and ageless(unz) == ageless(plain) and len(z) * 2 < len(plain),
               f"Accept-Encoding: gzip: Content-Encoding gzip, decompresses to the plain page "
               f"({len(plain)} -> {len(z)} bytes)", f"{st2} {h2} {len(z)} {unz[:60]!r}")
        st3, h3, body3 = get(port, headers=["Accept-Encoding: gzip"], method="HEAD")
        # (The page's age, gzipped per request, may take a byte more or less.)
        result(st3 == 200 and h3.get("content-encoding") == "gzip" and
               abs(int(h3.get("content-length", -100)) - int(h2["content-length"])) <= 4 and body3 == b"",
               "HEAD with gzip: the gzip page's headers only",
               f"{h3}")
        om = "Accept: application/openmetrics-text; version=1.0.0"
        _, _, omplain = get(port, headers=[om])
        _, h4, omz = get(port, headers=[om, "Accept-Encoding: gzip"])
        result(h4.get("content-encoding") == "gzip" and ageless(gzip.decompress(omz)) == ageless(omplain) and
               omplain.endswith(b"# EOF\n"), "OpenMetrics with gzip decompresses to the OpenMetrics page",
               f"{h4}")
        _, h5, body5 = get(port, headers=["Accept-Encoding: gzip;q=0, identity"])
        result("content-encoding" not in h5 and ageless(body5) == ageless(plain), "Accept-Encoding: gzip;q=0: not compressed",
               f"{h5}")
        # build_info: what --version says.
        v = subprocess.run([KVMSCOPE, "--version"], capture_output=True, text=True).stdout.strip()
        m = re.match(r"kvmscope (\S+) \(revision (\S+)\)$", v)
        bi = labels(plain, "kvmscope_build_info")
        result(m and bi == {"version": m.group(1), "revision": m.group(2)} and
               metric(plain, r'kvmscope_build_info\{[^}]*\}') == 1,
               f"kvmscope_build_info 1 with --version's version and revision ({v})", f"{bi} vs {v!r}")
        # process_*: as the kernel sees the exporter's process.
        f = proc_stat(p.pid)
        ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
        with open("/proc/stat") as fh:
            btime = int(re.search(r"^btime (\d+)$", fh.read(), re.M).group(1))
        start_s = btime + int(f[19]) / ticks
        cpu_now = (int(f[11]) + int(f[12])) / ticks
        fds_now = len(os.listdir(f"/proc/{p.pid}/fd"))
        with open(f"/proc/{p.pid}/limits") as fh:
            soft = re.search(r"^Max open files\s+(\S+)", fh.read(), re.M).group(1)
        got = {k: metric(plain, k) for k in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                                              "process_virtual_memory_bytes", "process_open_fds",
                                              "process_max_fds", "process_start_time_seconds")}
        rss_now = int(f[21]) * page
        checks = {
            # The page is from the start; the process has only run since.
            "process_cpu_seconds_total": got["process_cpu_seconds_total"] is not None and
            0 <= got["process_cpu_seconds_total"] <= cpu_now,
            "process_start_time_seconds": got["process_start_time_seconds"] is not None and
            abs(got["process_start_time_seconds"] - start_s) < 0.02 and start_s <= time.time(),
            # Resident memory at the first collection: some of what it has now.
            "process_resident_memory_bytes": got["process_resident_memory_bytes"] is not None and
            page <= got["process_resident_memory_bytes"] <= 2 * rss_now,
            "process_virtual_memory_bytes": got["process_virtual_memory_bytes"] is not None and
            got["process_virtual_memory_bytes"] >= got["process_resident_memory_bytes"],
            # Its fds then: the listening socket and epoll at least; now
            # the collector may hold a few more, and our connections.
            "process_open_fds": got["process_open_fds"] is not None and
            5 <= got["process_open_fds"] <= fds_now + 2,
            "process_max_fds": got["process_max_fds"] == (float("inf") if soft == "unlimited" else int(soft)),
        }
        bad = [k for k, ok in checks.items() if not ok]
        result(not bad, "process_* metrics agree with /proc of the exporter "
               f"(cpu {got['process_cpu_seconds_total']} s, rss {got['process_resident_memory_bytes']}, "
               f"fds {got['process_open_fds']}/{got['process_max_fds']})",
               f"{bad}: {got}; /proc: start {start_s}, cpu {cpu_now}, rss {rss_now}, fds {fds_now}, max {soft}")
        pr = subprocess.run(["promtool", "check", "metrics"], input=plain, capture_output=True)
        result(pr.returncode == 0 and not pr.stdout.strip() and not pr.stderr.strip(),
               "promtool check metrics: the page with build_info and process_* is clean",
               (pr.stdout + pr.stderr).decode()[:300])
    finally:
        rc = stop(p)
    result(rc == 0, "gzip exporter: SIGTERM ends it with status 0", str(rc))


def listen_any_checks():
    """--listen :PORT --allow-remote: every address, IPv4 and (where the
    host has it) IPv6."""
    p = subprocess.Popen([KVMSCOPE, "export", "--listen", ":0", "--allow-remote"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://(\S+):(\d+)/metrics", line)
    ok4 = ok6 = False
    if m:
        port = int(m.group(2))
        ok4 = get(port)[0] == 200
        if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
            s = socket.create_connection(("::1", port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
            ok6 = s.recv(20).startswith(b"HTTP/1.1 200")
            s.close()
        else:
            ok6 = None
    rc = stop(p)
    result(m and ok4 and ok6 is not False and rc == 0,
           f"--listen :0 --allow-remote serves every address ({m.group(1) if m else '?'}: IPv4 "
           f"{'yes' if ok4 else 'no'}, IPv6 {'no IPv6 here' if ok6 is None else 'yes' if ok6 else 'no'})",
           f"{line!r} {ok4} {ok6} {rc}")


def scrape_latencies(port, n, threads):
    lat, errors = [], []
    lock = threading.Lock()

    def worker(k):
        for _ in range(k):
            t = time.monotonic()
            try:
                st, _, body = get(port)
                ok = st == 200 and b"kvmscope_export_collections_total" in body
            except OSError as e:
                ok, st = False, str(e)
            with lock:
                lat.append(time.monotonic() - t)
                if not ok:
                    errors.append(st)
    ts = [threading.Thread(target=worker, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, errors


def load_checks(port, interval):
    _, _, body = get(port)
    c0, t0 = metric(body, "kvmscope_export_collections_total"), time.monotonic()
    lat, errors = scrape_latencies(port, 400, 16)
    lat.sort()
    p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
    result(not errors, f"400 scrapes from 16 concurrent clients all answered (p50 {p50 * 1e3:.2f} ms, "
           f"p99 {p99 * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms)", f"{len(errors)} failed: {errors[:3]}")
    # Idle and trickling clients: 64 connections that never send, 24 that
    # send one byte every 0.3 s. Scrapes must still be answered and the
    # collector keep its schedule.
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    trickle = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
    stop = threading.Event()

    def trickler():
        msg = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"z" * 200
        for i in range(len(msg)):
            if stop.is_set():
                return
            for s in trickle:
                try:
                    s.send(msg[i:i + 1])
                except OSError:
                    pass
            time.sleep(0.3)
    th = threading.Thread(target=trickler)
    th.start()
    time.sleep(0.5)
    lat2, errors2 = scrape_latencies(port, 100, 4)
    time.sleep(1.0)
    _, _, body = get(port)
    c1, t1 = metric(body, "kvmscope_export_collections_total"), time.monotonic()
    stop.set()
    th.join()
    expected = (t1 - t0) / interval
    result(not errors2, f"100 scrapes answered while 64 idle and 24 trickling clients hold connections "
           f"(p50 {statistics.median(lat2) * 1e3:.2f} ms, max {max(lat2) * 1e3:.2f} ms)",
           f"{len(errors2)} failed: {errors2[:3]}")
    # How much of its schedule the collector kept is a timing figure
    # (reported); that it went on under this load is asserted.
    print(f"NOTE collection under load: {c1 - c0:.0f} collections in {t1 - t0:.2f} s at "
          f"{interval * 1e3:.0f} ms ({(c1 - c0) / expected:.0%} of the schedule)")
    result(c1 > c0, f"collection went on under load ({c1 - c0:.0f} collections in {t1 - t0:.2f} s)",
           f"{c1 - c0} collections")
    # Trickling clients stay within their 10 s header deadline: still open.
    for s in idle + trickle:
        s.close()
    return p50, p99


def attackers(port, n, mode, stop, counts):
    """n connections from 127.0.0.1 that reconnect whenever the server
    closes them: mode "slow" sends one byte a second of a request head that
    never ends, "idle" sends nothing. Until stop is set."""
    import select

    def connect():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        counts["connects"] += 1
        return s
    socks = [connect() for _ in range(n)]
    last = 0.0
    while not stop.is_set():
        r, _, _ = select.select(socks, [], [], 0.05)
        for s in r:
            try:
                gone = s.recv(4096) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                s.close()
                socks[socks.index(s)] = connect()
        if mode == "slow" and time.monotonic() - last >= 1.0:
            last = time.monotonic()
            for s in socks:
                try:
                    s.send(b"G")
                except OSError:
                    pass
    for s in socks:
        s.close()


def scrape_under(port, seconds, period=0.2, source="127.0.0.1"):
    """Scrapes every period for seconds, each with 2 s to answer: (ok,
    total, what the others got)."""
    ok = total = 0
    bad = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        total += 1
        try:
            data = request_from(port, source)
        except OSError as e:
            data = type(e).__name__.encode()
        good = data.startswith(b"HTTP/1.1 200") and data.rstrip().endswith(b"kvmscope_export_collector_stalled 0")
        ok += good
        if not good:
            k = data[:12].decode(errors="replace") or "closed or reset"
            bad[k] = bad.get(k, 0) + 1
        time.sleep(period)
    return ok, total, bad


def attack_checks():
    """Scrapes keep being served while one address floods the server."""
    for mode, what in (("slow", "200 connections each sending one byte a second"),
                       ("idle", "200 idle connections that reconnect when evicted")):
        p, port = start("-i", "200ms")
        # The attackers in a process of their own: a scraper is not slowed
        # by them except through the server.
        rd, wr = os.pipe()
        kid = os.fork()
        if kid == 0:
            os.close(rd)
            stop, counts = threading.Event(), {"connects": 0}
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            attackers(port, 200, mode, stop, counts)
            os.write(wr, str(counts["connects"]).encode())
            os._exit(0)
        os.close(wr)
        time.sleep(2.5)  # the slow ones' heads past the pressure deadline
        ok, total, bad = scrape_under(port, 8)
        os.kill(kid, signal.SIGTERM)
        counts = {"connects": int(os.read(rd, 64) or b"0")}
        os.close(rd)
        os.waitpid(kid, 0)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        result(ok >= 0.9 * total, f"{what}: {ok} of {total} scrapes answered "
               f"({counts['connects']} attacker connections)", f"{ok} of {total}, others: {bad}")
    # A full table of request heads just begun (48 from one address, the
    # most one address may hold, 16 from another).
    p, port = start("-i", "200ms")
    held = []
    for src in ["127.0.0.1"] * 48 + ["127.0.0.2"] * 16:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.send(b"G")
        held.append(s)
    time.sleep(0.1)
    # A newcomer that sends its head in pieces gets a 503 after 0.1 s, and
    # can read it although the rest of its head arrives after it.
    got = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        time.sleep(0.2)
        try:
            s.sendall(b"Host: x\r\n\r\n")
            data = read_all(s)
        except OSError as e:
            data = str(e).encode()
        s.close()
        got.append(data[:12])
    result(all(g == b"HTTP/1.1 503" for g in got),
           "table full, a newcomer's head unfinished after 0.1 s: 3 of 3 read their 503 (no reset)", str(got))
    # A complete head beats unfinished ones, however young: from either address.
    st_same, _, _ = split(request_from(port, "127.0.0.1"))
    st_other, _, _ = split(request_from(port, "127.0.0.2"))
    time.sleep(0.5)  # a collection renders the counters
    _, _, body = get(port)
    ev = re.search(rb'^kvmscope_export_http_rejected_total\{reason="evicted"\} (\d+)$', body, re.M)
    result(st_same == 200 and st_other == 200 and ev and int(ev.group(1)) >= 1,
           "table full of heads just begun: complete requests from both addresses served, "
           f"unfinished heads closed for them ({ev.group(1).decode() if ev else None} evicted)",
           f"{st_same} {st_other} {ev}")
    for s in held:
        s.close()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)


def request_from(port, source):
    return request(port, b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n", 2, source)


def stall_checks():
    """A collector that stalls (its thread stopped with ptrace, as one
    stuck in a read would be): scrapes still answered, saying the page is
    old; SIGTERM ends the run within a second regardless."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    PTRACE_SEIZE, PTRACE_INTERRUPT, WALL = 0x4206, 0x4207, 0x40000000
    p, port = start("-i", "200ms")
    _, _, body = get(port)  # answered by the server: the collector is running
    tids = [int(t) for t in os.listdir(f"/proc/{p.pid}/task") if int(t) != p.pid]
    fresh = metric(body, "kvmscope_export_page_age_seconds")
    stalled0 = metric(body, "kvmscope_export_collector_stalled")
    tid = None
    for t in tids:  # the collector is the one thread besides the main one
        if libc.ptrace(PTRACE_SEIZE, t, None, None) == 0:
            tid = t
            libc.ptrace(PTRACE_INTERRUPT, t, None, None)
            break
    if tid is None or len(tids) != 1:
        p.kill()
        p.wait()
        result(False, "stalled collector", f"threads {tids}, ptrace errno {ctypes.get_errno()}")
        return
    os.waitpid(tid, WALL)  # the stop
    time.sleep(1.8)  # past 2 intervals and a second
    st, h, body = get(port)
    age = metric(body, "kvmscope_export_page_age_seconds")
    st_om, _, body_om = get(port, headers=("Accept: application/openmetrics-text; version=1.0.0",))
    result(fresh is not None and fresh < 0.5 and stalled0 == 0,
           f"a fresh page says how old it is ({fresh} s) and that the collector is not stalled",
           f"age {fresh} stalled {stalled0}")
    result(st == 200 and age is not None and age > 1.4 and metric(body, "kvmscope_export_collector_stalled") == 1
           and "collector stalled" in h.get("warning", ""),
           f"collector stalled: the scrape is answered and says so (page {age} s old, Warning header)",
           f"{st} age {age} {h}")
    result(st_om == 200 and body_om.endswith(b"kvmscope_export_collector_stalled 1\n# EOF\n"),
           "collector stalled: the OpenMetrics page says so and still ends with # EOF", body_om[-120:])
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    # The stopped thread is ours to reap once the exit kills it.
    ended = None
    while time.monotonic() - t0 < 5:
        r, _ = os.waitpid(tid, WALL | os.WNOHANG)
        if r:
            ended = time.monotonic() - t0
            break
        time.sleep(0.01)
    rc = wait_end(p)
    err = p.stderr.read()
    result(ended is not None and ended < 1.0 and rc == 0 and "collector is stuck" in err,
           f"SIGTERM ends export within a second with its collector stuck ({ended and ended * 1e3:.0f} ms), "
           "exit 0, one line says so", f"ended {ended} rc {rc} {err[-300:]!r}")


def main():
    if not os.path.exists(KVMSCOPE):
        print("FAIL export-http: build/bin/kvmscope missing (make all)")
        return 1
    cli_checks()
    gzip_self_checks()
    listen_any_checks()
    interval = 0.1
    p, port = start("-i", "100ms")
    try:
        # A slowloris client: one byte of a request, then nothing. The
        # server must close it 10 s after that byte (checked at the end).
        slow = socket.create_connection(("127.0.0.1", port))
        slow.send(b"G")
        slow_t0 = time.monotonic()
        # A client that never reads: thousands of pipelined requests fill
        # its receive buffer and the server's send buffer; the response
        # makes no progress and must be dropped after 10 s.
        hog = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.connect(("127.0.0.1", port))
        hog.settimeout(15)

        def flood():
            try:
                hog.sendall(b"GET /metrics HTTP/1.1\r\n\r\n" * 40000)
            except OSError:
                pass
        flooder = threading.Thread(target=flood)
        flooder.start()
        http_checks(port)
        load_checks(port, interval)
        time.sleep(max(0.0, slow_t0 + 10.8 - time.monotonic()))
        slow.settimeout(2)
        try:
            closed = slow.recv(100) == b""
        except (socket.timeout, ConnectionResetError):
            closed = False
        # The page is the collector's, rendered every interval: the
        # count shows at its next page (under load, a few intervals on).
        tmo = timeouts_at_least(port, 1)
        result(closed and tmo and int(tmo.group(1)) >= 1,
               "a request head not finished 10 s after its first byte: connection closed, counted",
               f"closed {closed}, metric {tmo.group(1) if tmo else None}")
        # The hog: once the server gave up, reading drains what was sent
        # and then ends (EOF or reset) instead of blocking.
        hog.settimeout(5)
        got, ended = 0, False
        try:
            while True:
                chunk = hog.recv(1 << 20)
                if not chunk:
                    ended = True
                    break
                got += len(chunk)
        except ConnectionResetError:
            ended = True
        except socket.timeout:
            pass
        flooder.join()
        hog.close()
        tmo = timeouts_at_least(port, 2)
        result(ended and tmo and int(tmo.group(1)) >= 2,
               f"a client that stops reading is dropped after 10 s without progress ({got} bytes had been sent)",
               f"ended {ended}, timeouts {tmo.group(1) if tmo else None}")
        _, _, body = get(port)
        bpf = metric(body, "kvmscope_bpf_attached")
        result(bpf in (0, 1), f"kvmscope_bpf_attached present ({bpf:.0f} on this kernel)", str(bpf))
    finally:
        p.send_signal(signal.SIGINT)
        rc = wait_end(p, 10)
    err = p.stderr.read()
    result(rc == 0, "SIGINT ends export with status 0", f"{rc} {err[-300:]!r}")
    if bpf == 0:
        result("exporting binary stats only" in err, "no BPF: the note says binary stats only", err)
    # IPv6 loopback.
    if socket.has_ipv6 and os.path.exists("/proc/net/if_inet6"):
        p = subprocess.Popen([KVMSCOPE, "export", "--listen", "[::1]:0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        m = re.search(r"http://\[::1\]:(\d+)/metrics", p.stdout.readline())
        data = b""
        if m:
            s = socket.create_connection(("::1", int(m.group(1))), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
            data = read_all(s)
            s.close()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        result(m and data.startswith(b"HTTP/1.1 200 OK") and rc == 0, "--listen [::1]:0 serves over IPv6",
               f"{m} {data[:40]!r} {rc}")
    else:
        print("SKIP export-http: IPv6: no IPv6 on this machine")
    # Without privileges BPF cannot load: stats only, bpf_attached 0, one note.
    if os.geteuid() != 0:
        print("SKIP export-http: stalled collector: needs root to ptrace it")
        print("SKIP export-http: unprivileged run: needs root to drop to another user")
        return 1 if failed else 0
    stall_checks()
    attack_checks()
    for sig in (signal.SIGHUP, signal.SIGQUIT):
        p, port = start("-i", "100ms")
        st, _, _ = get(port)
        p.send_signal(sig)
        rc = wait_end(p)
        result(st == 200 and rc == 0, f"{sig.name} ends export with status 0", f"{st} {rc}")
    p, port = start("-i", "100ms", user="65534")
    _, _, body = get(port)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=10)
    err = p.stderr.read()
    notes = [l for l in err.splitlines() if "binary stats only" in l]
    result(metric(body, "kvmscope_bpf_attached") == 0 and len(notes) == 1 and rc == 0,
           "unprivileged: serves stats only with kvmscope_bpf_attached 0, one note, SIGTERM exit 0",
           f"{metric(body, 'kvmscope_bpf_attached')} {rc} {err!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
