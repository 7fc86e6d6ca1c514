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
# Cyrus and Courier interoperability tests: only their helper packages are installed (the
# server packages conflict with dovecot-imapd and are unpacked below instead).
command -v cyrmaster >/dev/null 2>&1 || need_apt+=(cyrus-common cyrus-admin sasl2-bin libsasl2-modules)
command -v makeuserdb >/dev/null 2>&1 || need_apt+=(courier-authlib courier-authdaemon courier-authlib-userdb)
dpkg -s libcourier-unicode4 libgamin0 >/dev/null 2>&1 || need_apt+=(libcourier-unicode4 libgamin0 gamin)
# WeasyPrint (archive export's PDF) needs Pango; the export test rasterises it with pdftoppm.
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
[ -e /usr/lib/x86_64-linux-gnu/libpango-1.0.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libpango-1.0.so.0 ] \
  || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
# The status page's browser tests: Selenium drives Debian's chromedriver; axe-core comes
# from the npm registry into a cache outside the repository (tests/integration/test_status_browser.py).
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing system packages: ${need_apt[*]}"
  # Packages try to start their services on install; tests start their own throwaway ones.
  # The policy lasts for the install only: a policy-rc.d we created is removed afterwards
  # (also on failure), one that was already there is left alone.
  made_policy=""
  POLICY=${POLICY_RC_D:-/usr/sbin/policy-rc.d}  # overridable for the test of this script
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    made_policy=1
    trap '$SUDO rm -f "$POLICY"' EXIT
  fi
  # Other apt users (unattended upgrades, parallel jobs) hold the lock for a while.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${need_apt[@]}" >/dev/null
  if [ -n "$made_policy" ]; then
    $SUDO rm -f "$POLICY"
    trap - EXIT
  fi
fi

# Never `apt-get install cyrus-imapd` or `courier-imap`: they REMOVE dovecot-imapd
# (Conflicts: imap-server). Their debs are downloaded and unpacked outside the repo; the
# fixtures in tests/servers/ run the binaries from there (RW_TEST_DEBS overrides the place).
DEBS=${RW_TEST_DEBS:-/var/cache/responsewatch-test}
if [ ! -x "$DEBS/cyrus-imapd/usr/lib/cyrus/bin/imapd" ] || [ ! -x "$DEBS/courier-imap/usr/bin/imapd" ] \
   || [ ! -x "$DEBS/courier-base/usr/sbin/couriertcpd" ]; then
  echo "== unpacking cyrus-imapd, courier-imap, courier-base into $DEBS"
  $SUDO mkdir -p "$DEBS"
  (cd "$DEBS" && $SUDO apt-get download cyrus-imapd courier-imap courier-base >/dev/null 2>&1) || {
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    (cd "$DEBS" && $SUDO apt-get download cyrus-imapd courier-imap courier-base >/dev/null)
  }
  for pkg in cyrus-imapd courier-imap courier-base; do
    $SUDO dpkg-deb -x "$(ls "$DEBS/${pkg}"_*.deb | tail -1)" "$DEBS/$pkg"
  done
fi
# The Courier fixture authenticates through authdaemond's userdb module (its own file
# under /etc/courier/userdb/, removed after the tests).
if ! grep -q '^authmodulelist="authuserdb"' /etc/courier/authdaemonrc; then
  $SUDO sed -i 's/^authmodulelist=.*/authmodulelist="authuserdb"/' /etc/courier/authdaemonrc
fi

PY=${PYTHON:-python3}
echo "== installing responsewatch with its test dependencies"
$PY -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "== static checks"
$PY -m ruff check src tests
$PY -m ruff format --check src tests
$PY -m mypy
# import-linter's command sits next to the interpreter that installed it (a virtualenv made
# with --system-site-packages has it only in the system's bin: fall back to PATH).
lint_imports="$(dirname "$($PY -c 'import sys; print(sys.executable)')")/lint-imports"
[ -x "$lint_imports" ] || lint_imports=$(command -v lint-imports)
"$lint_imports"

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
