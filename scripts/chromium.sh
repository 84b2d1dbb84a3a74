#!/usr/bin/env bash
# Headless Chromium for the browser tests of `serve`, sourced by scripts/test.sh:
#   find_chromium   installs Debian's chromium if missing (as root, with apt-get), checks
#                   that it renders a page headless, and exports GRIDSWEEP_TEST_CHROMIUM
#                   (its path) when it does
# Each test starts and ends its own Chromium process. Where Chromium cannot be had,
# GRIDSWEEP_TEST_CHROMIUM stays unset and the browser tests skip, saying so.

find_chromium() {
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "note: installing Debian's chromium for the browser tests" >&2
      (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }) || true
    fi
  fi
  if ! command -v chromium >/dev/null; then
    echo "note: chromium cannot be had here: the browser tests of serve skip" >&2
    return 0
  fi
  if timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p id=ok>ok</p>' 2>/dev/null | grep -q 'id="ok"'; then
    export GRIDSWEEP_TEST_CHROMIUM="$(command -v chromium)"
  else
    echo "note: chromium does not render headless here: the browser tests of serve skip" >&2
  fi
}
