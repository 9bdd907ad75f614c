#!/usr/bin/env bash
# Installs everything quantc's build and tests need: Debian packages, a check
# for the Swift toolchain, and a Python venv at <repo>/.venv with
# tools/requirements.txt. Idempotent; a second run changes nothing and is fast.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

log() { echo "setup: $*"; }

# --- Debian packages -------------------------------------------------------
apt_pkgs=(
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev libopenblas-dev zlib1g-dev
  ocl-icd-opencl-dev pocl-opencl-icd clang-15
  chromium fonts-dejavu-core fonts-liberation2 time
  cmake make
)
# A Debian python3 without ensurepip cannot create venvs; pyenv's can.
if command -v python3 >/dev/null && ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  apt_pkgs+=(python3-venv)
fi
command -v python3 >/dev/null || apt_pkgs+=(python3 python3-venv)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${apt_pkgs[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Swift toolchain ---------------------------------------------------------
if ! command -v swift >/dev/null; then
  echo "setup: error: 'swift' not found on PATH. quantc requires a Swift 6 toolchain" \
       "(e.g. /opt/swift/usr/bin); install it and put it on PATH." >&2
  exit 1
fi
swift_ver=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9.]*\).*/\1/p' | head -1)

# --- Python venv -------------------------------------------------------------
venv="$root/.venv"
req="$root/tools/requirements.txt"
stamp="$venv/.req-hash"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating venv at $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
fi
want=$(sha256sum "$req" | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
pip_state="up to date"
if [ "$want" != "$have" ]; then
  log "installing Python requirements from tools/requirements.txt"
  PIP_NO_INPUT=1 "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$req"
  echo "$want" > "$stamp"
  pip_state="installed"
fi

# The versions the tools run with (requirements.txt has floors only): a check that fails on a
# fresh install but not on an older venv is then easy to trace to a newer package.
py_vers=$("$venv/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version, PackageNotFoundError
names = ["onnx", "onnxruntime", "numpy", "ml_dtypes", "scikit-learn", "pillow", "opencv-python-headless"]
def v(n):
    try:
        return f"{n} {version(n)}"
    except PackageNotFoundError:
        return f"{n} missing"
print(", ".join(v(n) for n in names))
PY
)
echo "setup: ok — apt: ${#missing[@]} installed, ${#apt_pkgs[@]} checked; swift ${swift_ver:-?}; venv .venv ($pip_state)"
echo "setup: python packages: ${py_vers:-?}"
