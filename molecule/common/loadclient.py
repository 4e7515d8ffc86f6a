"""Load for release tests, run *inside* a converged host: N clients send real inference
requests through nginx (HTTPS, keep-alive) until a stop file appears, then write a summary.

    python3 loadclient.py --clients 4 --url https://localhost/v2/models/iris/infer --out /tmp/load.json

Every answer is counted by status and by X-Release-Id; a connection error counts as status 0.
Standard library only: the host has nothing else.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import ssl
import threading
import time
from urllib.parse import urlsplit

BODY = json.dumps(
    {
        "inputs": [
            {
                "name": "input-0",
                "shape": [2, 4],
                "datatype": "FP64",
                "data": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]],
            }
        ]
    }
)


def client(
    url: str,
    stop_file: str,
    pause: float,
    headers: dict[str, str],
    tally: collections.Counter,
    releases: collections.Counter,
    order: list,
) -> None:
    parts = urlsplit(url)
    context = ssl._create_unverified_context()  # the host's self-signed certificate
    conn = None
    last = None
    while not os.path.exists(stop_file):
        try:
            if conn is None:
                conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=60, context=context)
            conn.request("POST", parts.path, BODY, {"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            response.read()
            status, release = response.status, response.getheader("X-Release-Id", "(none)")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status, release = 0, "(no answer)"
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
        tally[status] += 1
        releases[release] += 1
        if release != last:
            order.append(release)
            last = release
        time.sleep(pause)  # leave the 2-core host CPU for the deploy itself


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--url", default="https://localhost/v2/models/iris/infer")
    parser.add_argument("--stop-file", default="/tmp/load.stop")
    parser.add_argument("--out", default="/tmp/load.json")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds each client waits between requests")
    parser.add_argument("--header-file", help="'Name: value' lines sent with every request (a token stays off argv)")
    args = parser.parse_args()
    headers: dict[str, str] = {}
    if args.header_file:
        with open(args.header_file) as lines:
            headers = dict(tuple(part.strip() for part in line.split(":", 1)) for line in lines if ":" in line)
    tallies = [collections.Counter() for _ in range(args.clients)]
    releases = [collections.Counter() for _ in range(args.clients)]
    orders: list[list[str]] = [[] for _ in range(args.clients)]
    threads = [
        threading.Thread(
            target=client,
            args=(args.url, args.stop_file, args.pause, headers, tallies[i], releases[i], orders[i]),
        )
        for i in range(args.clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = {
        "seconds": round(time.monotonic() - started, 1),
        "status": {str(k): v for k, v in sum(tallies, collections.Counter()).items()},
        "release": dict(sum(releases, collections.Counter())),
        "order": orders,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as out:
        json.dump(summary, out)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
