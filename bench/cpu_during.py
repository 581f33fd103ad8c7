"""Run one wrk command (with wrk_report.lua) and print its BENCH line with two more figures:
the cores used meanwhile by the PostgreSQL backends of one database (and any parallel worker),
and by a server's processes (the pids given, with their children). Used by ogc_tiles.sh.

    cpu_during.py DATABASE PID[,PID...] WRK-COMMAND...
"""

import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except OSError:
        return None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def children(pid):
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pid:
                found.append(int(p))
                found += children(int(p))
    return found


def snapshot(db, servers):
    pg, srv = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        c = cmdline(int(p))
        if c.startswith("postgres:") and (db in c or "parallel worker" in c):
            pg[int(p)] = ticks(int(p))
    for s in servers:
        for p in [s, *children(s)]:
            srv[p] = ticks(p)
    return pg, srv


def used(before, after):
    return sum((after[p] or 0) - (before.get(p) or 0) for p in after if after[p] is not None) / TICK


db, servers, wrk = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], sys.argv[3:]
pg0, srv0 = snapshot(db, servers)
t0 = time.monotonic()
out = subprocess.run(wrk, capture_output=True, text=True).stdout
elapsed = time.monotonic() - t0
pg1, srv1 = snapshot(db, servers)
line = next(x for x in out.splitlines() if x.startswith("BENCH "))
data = json.loads(line[6:])
data["pg_cores"] = round(used(pg0, pg1) / elapsed, 2)
data["server_cores"] = round(used(srv0, srv1) / elapsed, 2)
print(json.dumps(data))
