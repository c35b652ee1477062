#!/usr/bin/env bash
# Install CycloneDDS 0.10.2 (Python binding) and the Unitree SDK into the current Python env.
#
# Idempotent: re-running skips what is already there. Usage:
#   PYTHON=.venv/bin/python scripts/install_dds.sh      (default: the `python` on PATH)
#
# Why these pins (docs: environment.md): Unitree robots speak CycloneDDS 0.10.x and 11.x does not
# interoperate with it; PyPI has 0.10.2 wheels only up to Python 3.10, so on 3.11+ the binding is
# built from source against Debian's C library (cyclonedds-dev). The SDK package
# unitree-sdk2py-dimos declares `cyclonedds>=0.10.2` (which would resolve to 11.x) and opencv, so it
# is installed with --no-deps.
#
# arm64 (Go2 Jetson, JetPack): Debian/Ubuntu's cyclonedds-dev may be missing or another version;
# build the C library from the `releases/0.10.x` branch of eclipse-cyclonedds/cyclonedds into a
# prefix and run this script with CYCLONEDDS_HOME=<prefix> (the symlink step is then skipped).
set -euo pipefail

PYTHON="${PYTHON:-python}"
CDDS_VERSION="0.10.2"
SDK_VERSION="1.0.3"

have_py_module() { "$PYTHON" -c "import $1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_c_library() {
  if dpkg -s cyclonedds-dev >/dev/null 2>&1; then
    return
  fi
  echo "installing cyclonedds-dev (C library and headers)"
  as_root apt-get update -q
  as_root apt-get install -y cyclonedds-dev
}

# The Python binding's build looks for include/, lib/ and bin/ (idlc) under CYCLONEDDS_HOME; Debian
# spreads them over /usr, so a small prefix of symlinks points at them.
make_home() {
  local multiarch home
  multiarch="$(gcc -dumpmachine 2>/dev/null || echo "$(uname -m)-linux-gnu")"
  home="${HOME}/cdds"
  mkdir -p "${home}/lib"
  ln -sfn /usr/include "${home}/include"
  ln -sfn /usr/bin "${home}/bin"
  ln -sf /usr/lib/"${multiarch}"/libddsc.so* /usr/lib/"${multiarch}"/libcycloneddsidl.so* \
    "${home}/lib/"
  echo "${home}"
}

installed_cdds_version() {
  "$PYTHON" -c "import importlib.metadata as m; print(m.version('cyclonedds'))" 2>/dev/null || true
}

main() {
  if [ "$(installed_cdds_version)" != "${CDDS_VERSION}" ]; then
    if [ -z "${CYCLONEDDS_HOME:-}" ]; then
      install_c_library
      CYCLONEDDS_HOME="$(make_home)"
    fi
    echo "building cyclonedds==${CDDS_VERSION} against ${CYCLONEDDS_HOME}"
    CYCLONEDDS_HOME="${CYCLONEDDS_HOME}" "$PYTHON" -m pip install "cyclonedds==${CDDS_VERSION}"
  fi
  if ! have_py_module unitree_sdk2py; then
    "$PYTHON" -m pip install --no-deps "unitree-sdk2py-dimos==${SDK_VERSION}"
  fi
  "$PYTHON" -c "import unitree_sdk2py.core.channel; print(\"cyclonedds $(installed_cdds_version) and unitree_sdk2py are installed\")"
}

main "$@"
