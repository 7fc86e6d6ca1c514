#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian 12 machine, then runs it.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need_apt=()
command -v dovecot >/dev/null 2>&1 || need_apt+=(dovecot-core dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v amtool >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-dejavu-core)
# The status page's browser tests: Selenium drives Debian's chromedriver; axe-core comes
# from the npm registry into a cache outside the repository (tests/integration/test_status_browser.py).
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing system packages: ${need_apt[*]}"
  # Packages try to start their services on install; tests start their own throwaway ones.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
echo "== installing responsewatch with its test dependencies"
$PY -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "== static checks"
$PY -m ruff check src tests
$PY -m ruff format --check src tests
$PY -m mypy
# import-linter's command sits next to the interpreter that installed it.
"$(dirname "$($PY -c 'import sys; print(sys.executable)')")/lint-imports"

echo "== tests"
set +e
$PY -m pytest -q "$@"
code=$?
set -e
# pytest: 0 = all passed, 5 = no tests collected (a failure for us), anything else = failure.
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$code"
