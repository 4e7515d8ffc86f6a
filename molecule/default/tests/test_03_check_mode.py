"""A check-mode run of the whole site on the converged host changes nothing."""

from __future__ import annotations

import re

from hostcheck import ansible_playbook


def test_check_mode_reports_no_change() -> None:
    result = ansible_playbook("site.yml", "--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", result.stdout)
    assert recap, result.stdout[-2000:]
    assert [(changed, failed) for _, changed, _, failed in recap] == [("0", "0")] * len(recap), result.stdout[-3000:]
