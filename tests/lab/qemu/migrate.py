#!/usr/bin/python3
"""Run the build machine's QEMU on the lab's KVM and live-migrate it.

Runs in the lab under `chroot /host` (tests/lab/run --host-root), so this is
the build machine's own python3 and QEMU. Starts QEMU with KVM, the guest
kernel GUEST_KERNEL and the dirtier initramfs (tests/lab/qemu/dirtier.c),
waits for the guest to dirty memory, and migrates it through QMP to
`exec:cat > /dev/null`. Prints one JSON line per QMP exchange that the
checker needs ({"qmp": command, "t_ns": CLOCK_MONOTONIC, "return": ...}),
the clock of kvmscope's records.

Once the migration completed, the guest is paused (QEMU's postmigrate
state): KVM's statistics no longer move. This script then reads query-stats,
creates DIR/migrated and waits for DIR/stats-done (the lab script reads
`kvmscope stats` meanwhile), reads query-stats again, and quits QEMU.

Every wait is bounded; on any failure one line on stderr and exit 1.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time


def die(msg):
    print(f"qemu-migrate: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def wait_for(what, cond, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    die(f"timed out after {timeout} s waiting for {what}")


class Qmp:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.line()  # greeting
        self.cmd("qmp_capabilities")

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                die("QMP connection closed")
            self.buf += data
        raw, self.buf = self.buf.split(b"\n", 1)
        return json.loads(raw)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.line()
            if "return" in r:
                return r["return"]
            if "error" in r:
                die(f"{name}: {r['error'].get('desc', r['error'])}")
            # Asynchronous events ({"event": ...}) are skipped.


def record(name, ret, t_ns=None):
    print(json.dumps({"qmp": name, "t_ns": t_ns or time.monotonic_ns(), "return": ret}),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--dir", required=True, help="work directory (shared with the lab)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--timeout", type=float, default=120, help="bound of each wait, s")
    a = ap.parse_args()

    os.makedirs(a.dir, exist_ok=True)
    qmp_path = os.path.join(a.dir, "qmp.sock")
    serial = os.path.join(a.dir, "serial.log")
    cmd = [
        "qemu-system-x86_64", "-name", "kvmscope-migrated", "-nodefaults", "-no-user-config",
        "-machine", "q35,accel=kvm", "-cpu", "host", "-smp", str(a.smp), "-m", str(a.mem),
        "-display", "none", "-no-reboot",
        "-kernel", a.kernel, "-initrd", a.initrd,
        "-append", "console=ttyS0 quiet panic=-1 init_on_alloc=0",
        "-serial", f"file:{serial}",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
    ]
    # The guest kernel, emulated twice over, rarely crashes while booting
    # (as the lab's own kernel does, docs/lab.md): one more boot then,
    # said on stderr. A crash after the dirtier started is a failure.
    for attempt in (1, 2):
        for f in (qmp_path, serial):
            if os.path.exists(f):
                os.unlink(f)
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr)
        try:
            q = boot(a, qemu, qmp_path, serial)
            if q:
                run(a, qemu, q)
                return
            tail = open(serial, errors="replace").read().strip().splitlines()[-1:]
            print(f"NOTE guest boot {attempt} of 2 ended before the dirtier ran "
                  f"(QEMU status {qemu.returncode}): {tail}", file=sys.stderr, flush=True)
        except (OSError, ValueError) as e:
            time.sleep(0.5)
            die(f"QMP failed ({e}); QEMU status {qemu.poll()}")
        finally:
            if qemu.poll() is None:
                qemu.kill()
            qemu.wait()
    die("the guest did not boot twice in a row")


def boot(a, qemu, qmp_path, serial):
    """QMP once the guest's dirtier runs; None if QEMU exited before."""
    def up():
        return qemu.poll() is not None or os.path.exists(qmp_path)

    wait_for("QEMU's QMP socket", up, a.timeout)
    if qemu.poll() is not None:
        return None
    q = Qmp(qmp_path, a.timeout)

    def guest_running():
        if qemu.poll() is not None:
            return True
        try:
            return "dirtier: running" in open(serial, errors="replace").read()
        except FileNotFoundError:
            return False

    wait_for("the guest's dirtier to start", guest_running, a.timeout, 0.25)
    return None if qemu.poll() is not None else q


def run(a, qemu, q):
    with open(os.path.join(a.dir, "qemu.pid"), "w") as f:
        f.write(f"{qemu.pid}\n")
    record("qemu", {"pid": qemu.pid})
    # QEMU opens its KVM stats fds for query-stats: kvmscope can then read
    # them too. The lab script waits for DIR/started before the migration.
    record("query-stats-vm", q.cmd("query-stats", target="vm"))
    record("query-stats-vcpu", q.cmd("query-stats", target="vcpu"))
    open(os.path.join(a.dir, "started"), "w").close()
    wait_for("the lab to be ready for the migration",
             lambda: os.path.exists(os.path.join(a.dir, "go")), a.timeout)

    t0 = time.monotonic_ns()
    q.cmd("migrate", uri="exec:cat > /dev/null")
    record("migrate", {}, t0)

    def done():
        r = q.cmd("query-migrate")
        if r.get("status") in ("failed", "cancelled"):
            die(f"migration {r['status']}: {r.get('error-desc', '')}")
        return r if r.get("status") == "completed" else None

    final = wait_for("the migration to complete", done, a.timeout, 0.2)
    record("query-migrate", final)
    record("query-status", q.cmd("query-status"))
    record("query-stats-vm", q.cmd("query-stats", target="vm"))
    record("query-stats-vcpu", q.cmd("query-stats", target="vcpu"))
    open(os.path.join(a.dir, "migrated"), "w").close()
    wait_for("the lab's stats reading", lambda: os.path.exists(os.path.join(a.dir, "stats-done")),
             a.timeout)
    record("query-stats-vm", q.cmd("query-stats", target="vm"))
    record("query-stats-vcpu", q.cmd("query-stats", target="vcpu"))
    q.cmd("quit")
    try:
        qemu.wait(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        die("QEMU did not quit")


if __name__ == "__main__":
    main()
