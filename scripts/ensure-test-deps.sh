#!/usr/bin/env bash
# What only the tests need, beyond the npm packages.
set -euo pipefail
# python3-evtx (Debian's python-evtx, for /usr/bin/python3): the independent reader the EVTX tests compare
# ingest/evtx.ts against. Installed when missing and we can (apt-get, as root); otherwise a warning, and the
# EVTX tests fail saying what to install.
if ! /usr/bin/python3 -c 'import Evtx' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
    echo "Installing python3-evtx (reference reader for the EVTX tests)..."
    if ! out=$({ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-evtx; } 2>&1); then
      echo "$out" | tail -n 5 >&2
      echo "warning: could not install python3-evtx; the EVTX tests will fail until it is installed" >&2
    fi
  else
    echo "warning: python3-evtx is missing (apt-get install python3-evtx, as root); the EVTX tests will fail" >&2
  fi
fi
