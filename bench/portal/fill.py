"""Fills webhookd with deliveries through its API (bench/portal/run.sh).

fill.py URL KEY RECEIVER_URL DELIVERIES ENDPOINTS: creates ENDPOINTS
endpoints on the receiver, publishes DELIVERIES / ENDPOINTS events (each
fans out to every endpoint) over 4 keep-alive connections, waits until no
delivery is pending (polled, bounded), and prints the timings as JSON.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

url, key, rx, n, eps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
u = urllib.parse.urlsplit(url)
BASE = "/integrations/api/v1/webhooks/"
H = {"X-API-Key": key, "Content-Type": "application/json"}


def call(conn, method, path, body=None):
    conn.request(method, BASE + path, json.dumps(body) if body is not None else None, H)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
for i in range(eps):
    call(conn, "POST", "endpoints/", {"url": f"{rx}/bench-{i}", "metadata": {"customer": f"c{i}"}})
events = n // eps
threads = 4
start = time.monotonic()


def publisher(t):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    kinds = ["order.created", "order.paid", "invoice.paid"]
    for i in range(t, events, threads):
        call(c, "POST", "events/", {"type": kinds[i % 3], "data": {"order": i, "note": "portal benchmark"}})


ts = [threading.Thread(target=publisher, args=(t,)) for t in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
published = time.monotonic() - start
print(f"published {events} events in {published:.1f} s", file=sys.stderr)


def open_count():
    # stats/ counts (the portal's route) when there, else three list totals.
    # A new connection each time: the publishers took long enough for
    # webhookd to close an idle one.
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    conn.request("GET", BASE + "stats/", None, H)
    r = conn.getresponse()
    body = r.read()
    if r.status == 200:
        c = json.loads(body)["counts"]
        return c["pending"] + c["failed"] + c["rate_limited"]
    return sum(call(conn, "GET", f"deliveries/?page_size=1&status={s}")["pagination"]["total_count"]
               for s in ("pending", "failed", "rate_limited"))


for _ in range(3600):  # at most an hour
    if open_count() == 0:
        break
    time.sleep(1)
filled = time.monotonic() - start
size = 0
for d, _, files in os.walk(sys.argv[6] if len(sys.argv) > 6 else "/nonexistent"):
    size += sum(os.path.getsize(os.path.join(d, f)) for f in files)
print(json.dumps({"deliveries": events * eps, "events": events, "endpoints": eps,
                  "publish_s": published, "fill_s": filled, "store_mib": size / 2**20}))
