"""Unpack only the Ansible collections we use from the `ansible` wheel on PyPI.

Galaxy is unreachable from the build machines and the full `ansible` package
installs 547 MB; the collections we need are a few MB of that wheel.

    python tools/install_collections.py --dest .cache/collections tools/collections.txt
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", type=Path, help="file: first line 'ansible==X', then one collection per line")
    parser.add_argument("--dest", type=Path, required=True, help="collections path (ANSIBLE_COLLECTIONS_PATH)")
    parser.add_argument("--constraints", type=Path, help="pip constraints file")
    args = parser.parse_args()
    lines = [ln.strip() for ln in args.spec.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    requirement, collections = lines[0], lines[1:]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"==> downloading {requirement} to unpack {len(collections)} collections", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--progress-bar",
                "off",
                "--dest",
                tmp,
                requirement,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("ansible-*.whl"))
        prefixes = tuple("ansible_collections/{}/{}/".format(*c.split(".")) for c in collections)
        target = args.dest
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(prefixes)]
            archive.extractall(target, members)
    for collection in collections:
        print(f"    {collection}: {target / 'ansible_collections' / collection.replace('.', '/')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
