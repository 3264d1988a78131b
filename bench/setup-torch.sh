#!/usr/bin/env bash
# The PyTorch anchor's set-up (idempotent): Debian's python3-torch and libopenblas0-pthread (without the
# latter Debian's torch runs on the reference BLAS, ~3 GFLOP/s, and would be no anchor). Does nothing when
# both are there, when DAS_NO_APT=1, or where there is no apt (the bench then records the anchor as not
# installed, with the reason). Called by bench/cli.mjs before a run that wants PyTorch.
set -euo pipefail
python=${1:-/usr/bin/python3}
have_torch() { "$python" -c 'import torch' >/dev/null 2>&1; }
have_blas() { [ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ] || [ -d /usr/lib/aarch64-linux-gnu/openblas-pthread ]; }
if have_torch && have_blas; then exit 0; fi
if [ "$python" != /usr/bin/python3 ]; then exit 0; fi # another Python brings its own torch
if [ "${DAS_NO_APT:-}" = 1 ] || ! command -v apt-get >/dev/null || [ ! -f /etc/debian_version ]; then
  echo "[bench] PyTorch anchor: python3-torch or libopenblas0-pthread missing and no apt; it will be recorded as not installed" >&2
  exit 0
fi
# Never prompts: without root or password-less sudo it says so and the anchor is recorded as not installed.
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi; }
echo "[bench] installing Debian's python3-torch and libopenblas0-pthread for the PyTorch anchor" >&2
sudo_ apt-get update -qq
sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread >/dev/null \
  || echo "[bench] apt could not install them; the PyTorch anchor will be recorded as not installed" >&2
