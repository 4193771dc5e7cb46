#!/usr/bin/env bash
# Installs, with apt-get and only when missing, every Debian package that the
# build, the tests and the demo need. Each package is named once, here.
#   scripts/install-deps.sh          install what is missing (needs root or sudo)
#   scripts/install-deps.sh --check  list what is missing, install nothing
set -euo pipefail

PKGS=(
  build-essential     # gcc, make, libc headers
  pkg-config          # the Makefile finds libraries through their .pc files
  libopenblas-dev     # cblas_sgemm for every matrix product on CPU (model/)
  libzmq3-dev         # the verifier farm's broker, workers and client (verifier/)
  libseccomp-dev      # the sandbox's syscall allowlist (verifier/)
  libcjson-dev        # JSON and JSONL everywhere (common/json)
  libpcre2-dev        # the BPE split regex, JIT-compiled (tokenizer/)
  zlib1g-dev          # gzip'd WARC input (data/ pipeline)
  libgumbo-dev        # HTML parsing for text extraction (data/)
  libcld2-dev         # language identification (data/)
  libxxhash-dev       # fast hashing: MinHash, dedup, hash maps
  libgmp-dev          # exact big rationals in the math verifier: 1/2006! vs 1/2004!, \binom{70}{35} (verifier/math)
  python3             # runs Python programs in the code verifier
  clang               # libFuzzer targets (make fuzz)
  libclang-rt-14-dev  # the sanitizer and fuzzer runtimes for clang
  python3-doc         # HTML documentation: the demo's built-in "web" corpus
  iproute2            # ip netns / veth: the farm-across-hosts test (tests/verifier/test_farm_netns.sh)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ "${1:-}" = "--check" ]; then printf 'missing: %s\n' "${missing[*]}"; exit 1; fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
