#!/usr/bin/env bash
# Installs what building and testing cuvee needs on a fresh Debian machine with a Rust
# toolchain: the mold linker (halves link time; .cargo/config.toml uses it).
# Idempotent and quiet when everything is already there.
set -euo pipefail

need_apt=()
command -v mold >/dev/null 2>&1 || need_apt+=(mold)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
