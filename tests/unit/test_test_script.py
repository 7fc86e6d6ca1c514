"""scripts/test.sh on a machine that lacks a system package: apt waits for the lock, and
the policy-rc.d that keeps services from starting lasts for the install only."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Records its arguments and whether the policy file exists while it runs.
APT = """#!/bin/sh
if [ -e "$POLICY_RC_D" ]; then p=policy; else p=no-policy; fi
echo "$p $*" >> "$APT_LOG"
exit ${APT_EXIT:-0}
"""


def stub_bin(tmp_path: Path) -> Path:
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, text in (("apt-get", APT), ("sudo", '#!/bin/sh\nexec "$@"\n')):
        (stubs / name).write_text(text)
        (stubs / name).chmod(stat.S_IRWXU)
    return stubs


@pytest.mark.parametrize("apt_exit", [0, 100])
def test_policy_rc_d_lasts_for_the_install_only(tmp_path: Path, apt_exit: int) -> None:
    stubs = stub_bin(tmp_path)
    policy, log = tmp_path / "policy-rc.d", tmp_path / "apt.log"
    env = {
        **os.environ,
        "PATH": f"{stubs}:/usr/bin:/bin",  # no /usr/sbin: dovecot looks missing
        "POLICY_RC_D": str(policy),
        "APT_LOG": str(log),
        "APT_EXIT": str(apt_exit),
        "PYTHON": "false",  # stop right after the system packages
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "test.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0  # PYTHON=false, or the failed install
    calls = log.read_text().splitlines()
    assert calls[0].startswith("policy -o DPkg::Lock::Timeout=600 update")
    if apt_exit == 0:
        assert calls[1].startswith("policy -o DPkg::Lock::Timeout=600 install")
        assert "dovecot-imapd" in calls[1]
    assert not policy.exists(), "policy-rc.d left behind"


def test_an_existing_policy_rc_d_is_left_alone(tmp_path: Path) -> None:
    stubs = stub_bin(tmp_path)
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    env = {
        **os.environ,
        "PATH": f"{stubs}:/usr/bin:/bin",
        "POLICY_RC_D": str(policy),
        "APT_LOG": str(tmp_path / "apt.log"),
        "PYTHON": "false",
    }
    subprocess.run(["bash", str(ROOT / "scripts" / "test.sh")], env=env, timeout=60, check=False,
                   capture_output=True)  # fmt: skip
    assert policy.read_text() == "#!/bin/sh\nexit 0\n"
