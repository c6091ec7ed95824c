"""Times the API calls each portal page makes (bench/portal/run.sh).

api_times.py URL KEY REPEATS: for each call, REPEATS runs of
curl -w %{time_total} (a new connection each, as a browser's first call),
the median in ms, as a Markdown table. A route the webhookd does not have
shows its status.
"""
import json
import statistics
import subprocess
import sys
import time
import urllib.parse

url, key, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
BASE = url + "/integrations/api/v1/webhooks/"


def get(path):
    out = subprocess.run(["curl", "-sS", "-H", f"X-API-Key: {key}", BASE + path],
                         capture_output=True, check=True).stdout
    return json.loads(out)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


now = time.time()
hour = f"from={iso(now - 3600)}&to={iso(now)}"
day = f"from={iso(now - 86400)}&to={iso(now)}"
week = f"from={iso(now - 7 * 86400)}&to={iso(now)}"
first = get("deliveries/?page_size=50&count=false")
d = first["data"][0]
ep = d["endpoint_id"]
cursor = urllib.parse.quote(first["next_cursor"] or "", safe="")
calls = [
    ("sign-in", "session/"),
    ("overview (hour)", f"stats/?{hour}&bucket=1m"),
    ("overview (day)", f"stats/?{day}&bucket=15m"),
    ("overview (week)", f"stats/?{week}&bucket=1h"),
    ("overview: failing endpoints", f"stats/endpoints/?{hour}&limit=10"),
    ("endpoints", "endpoints/?page_size=50"),
    ("endpoints: health (24 h)", f"stats/endpoints/?{day}&limit=1000"),
    ("deliveries, page 1 (count=false)", "deliveries/?page_size=50&count=false"),
    ("deliveries, page 2 (cursor)", f"deliveries/?page_size=50&count=false&cursor={cursor}"),
    ("deliveries, status=delivered", "deliveries/?page_size=50&count=false&status=delivered"),
    ("deliveries, endpoint filter", f"deliveries/?page_size=50&count=false&endpoint_id={ep}"),
    ("deliveries, event_type filter", "deliveries/?page_size=50&count=false&event_type=invoice.paid"),
    ("deliveries, with total_count (old)", "deliveries/?page_size=50"),
    ("bulk replay: count dead letters", "deliveries/?page_size=1&status=dead_letter"),
    ("delivery detail", f"deliveries/{d['id']}/"),
    ("delivery detail: message", f"events/{d['event_id']}/"),
]
print("| page: API call | median ms | min–max ms | status |")
print("| --- | ---: | ---: | --- |")
for name, path in calls:
    times, status = [], ""
    for _ in range(repeats):
        out = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
             "-H", f"X-API-Key: {key}", BASE + path], capture_output=True, text=True, check=True).stdout
        status, t = out.split()
        times.append(float(t) * 1000)
    shown = path.split("?")[0] + ("?" + path.split("?")[1][:40] + "…" if "?" in path else "")
    print(f"| {name}: `{shown}` | {statistics.median(times):.1f} | {min(times):.1f}–{max(times):.1f} | {status} |")
