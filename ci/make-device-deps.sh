#!/usr/bin/env bash
# ci/make-device-deps.sh - run HERE (a Debian machine with ci/setup.sh's packages), before a
# device check: the lent GPU machine has nvcc, CMake and PyTorch but no libjansson-dev or
# libxxhash-dev, no apt and no internet. This copies into .deps/ (git-ignored; the device tool
# carries it with carry=[".deps"]):
#   .deps/include         jansson.h jansson_config.h xxhash.h xxh3.h
#   .deps/lib             libjansson.a libxxhash.a (static: nothing to find at run time)
#   .deps/lib/pkgconfig   jansson.pc libxxhash.pc, prefix = ${pcfiledir}/../.. (relocatable)
#   .deps/bin/pkg-config  pkgconf with its library, for a machine without pkg-config
# ci/device-check.sh puts .deps/lib/pkgconfig on PKG_CONFIG_PATH (and .deps/bin on PATH when
# the machine has no pkg-config of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
lib=/usr/lib/$arch
for f in /usr/include/jansson.h /usr/include/jansson_config.h /usr/include/xxhash.h /usr/include/xxh3.h \
         "$lib/libjansson.a" "$lib/libxxhash.a" "$lib/pkgconfig/jansson.pc" "$lib/pkgconfig/libxxhash.pc"; do
  [ -f "$f" ] || { echo "make-device-deps: $f missing (run ci/setup.sh first)" >&2; exit 1; }
done
rm -rf .deps
mkdir -p .deps/include .deps/lib/pkgconfig .deps/bin
cp /usr/include/jansson.h /usr/include/jansson_config.h /usr/include/xxhash.h /usr/include/xxh3.h .deps/include/
cp "$lib/libjansson.a" "$lib/libxxhash.a" .deps/lib/
for pc in jansson libxxhash; do
  sed -e 's|^prefix=.*|prefix=${pcfiledir}/../..|' -e 's|^exec_prefix=.*|exec_prefix=${prefix}|' \
      -e 's|^libdir=.*|libdir=${prefix}/lib|' -e 's|^includedir=.*|includedir=${prefix}/include|' \
      "$lib/pkgconfig/$pc.pc" > ".deps/lib/pkgconfig/$pc.pc"
done
# pkg-config itself, in case the GPU image lacks it (pkgconf + libpkgconf; same x86-64 glibc ABI)
if pc=$(command -v pkgconf 2>/dev/null); then
  mkdir -p .deps/bin/pkgconf-lib
  cp "$pc" .deps/bin/pkgconf.real
  ldd "$pc" | awk '/libpkgconf/ {print $3}' | xargs -r -I{} cp {} .deps/bin/pkgconf-lib/
  cat > .deps/bin/pkg-config <<'WRAP'
#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/pkgconf-lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/pkgconf.real" "$@"
WRAP
  chmod +x .deps/bin/pkg-config
fi
PKG_CONFIG_PATH="$PWD/.deps/lib/pkgconfig" .deps/bin/pkg-config --cflags --libs jansson libxxhash
du -sh .deps
echo "make-device-deps: .deps ready; next: bash ci/device-check.sh --prepare (see its header)"
