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
# Where the distribution has no 0.10.x C library (Ubuntu 20.04 on the Go2 EDU's Jetson has none;
# 22.04 has 0.8), the script builds it from the `releases/0.10.x` branch of
# eclipse-cyclonedds/cyclonedds into $CDDS_PREFIX (default ~/cyclonedds-0.10) with git + cmake,
# once, and builds the binding against it. CYCLONEDDS_HOME=<prefix> uses a library you built.
set -euo pipefail

PYTHON="${PYTHON:-python}"
CDDS_VERSION="0.10.2"
SDK_VERSION="1.0.3"

have_py_module() { "$PYTHON" -c "import $1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

CDDS_BRANCH="releases/0.10.x"
CDDS_PREFIX="${CDDS_PREFIX:-${HOME}/cyclonedds-0.10}"

# The distribution's cyclonedds-dev version (installed, else the candidate), or nothing.
apt_cdds_version() {
  local v
  v="$(dpkg-query -W -f='${Version}' cyclonedds-dev 2>/dev/null || true)"
  if [ -z "$v" ] && command -v apt-cache >/dev/null 2>&1; then
    v="$(apt-cache policy cyclonedds-dev 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [ "$v" = "(none)" ] && v=""
  fi
  echo "$v"
}

# Prints the CYCLONEDDS_HOME to build the binding against: the distribution's 0.10.x library
# (through a prefix of symlinks), else one built from source into $CDDS_PREFIX.
c_library_home() {
  if ! dpkg -s cyclonedds-dev >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -q >&2
  fi
  case "$(apt_cdds_version)" in
    0.10.*)
      if ! dpkg -s cyclonedds-dev >/dev/null 2>&1; then
        echo "installing cyclonedds-dev (C library and headers)" >&2
        as_root apt-get install -y cyclonedds-dev >&2
      fi
      make_home
      ;;
    *)
      build_c_library >&2
      echo "${CDDS_PREFIX}"
      ;;
  esac
}

build_c_library() {
  if [ -e "${CDDS_PREFIX}/lib/libddsc.so" ] && [ -x "${CDDS_PREFIX}/bin/idlc" ]; then
    echo "CycloneDDS C library found in ${CDDS_PREFIX}"
    return
  fi
  echo "this system has no CycloneDDS 0.10.x C library package: building ${CDDS_BRANCH} into ${CDDS_PREFIX}"
  for tool in git cmake g++; do
    command -v "$tool" >/dev/null 2>&1 || as_root apt-get install -y git cmake build-essential
  done
  local src
  src="$(mktemp -d)"
  git clone --depth 1 --branch "${CDDS_BRANCH}" https://github.com/eclipse-cyclonedds/cyclonedds "${src}"
  cmake -S "${src}" -B "${src}/build" -DCMAKE_INSTALL_PREFIX="${CDDS_PREFIX}" \
    -DBUILD_EXAMPLES=OFF -DBUILD_TESTING=OFF -DENABLE_SHM=OFF
  cmake --build "${src}/build" --target install --parallel "$(nproc)"
  rm -rf "${src}"
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
      CYCLONEDDS_HOME="$(c_library_home)"
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
