"""Record every distinct command line seen on the host: polls /proc/*/cmdline every few
milliseconds and appends each new one (arguments joined by spaces) to a log, so that a test
can prove no secret ever appeared in a process's argv during a converge or a deploy.

    python3 cmdline_watch.py /var/log/cmdline-watch.log
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    seen: set[bytes] = set()
    with open(sys.argv[1], "ab", buffering=0) as log:
        os.chmod(sys.argv[1], 0o600)
        while True:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read()
                except OSError:
                    continue
                if argv and argv not in seen:
                    seen.add(argv)
                    log.write(argv.replace(b"\0", b" ").strip() + b"\n")
            time.sleep(0.005)


if __name__ == "__main__":
    main()
