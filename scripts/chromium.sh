#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium, for the browser tests (tests/browser/):
# Playwright drives it there; `playwright install` is never used (its downloads are blocked on
# the machines the tests run on).
#
#   scripts/chromium.sh     print the Chromium version; install Debian's `chromium` package
#                           first when it is missing (as root, with apt-get); exit 1 when it
#                           cannot, saying how to install it
#
# `make test` runs it before pytest (scripts/test.sh). The package is `chromium` on Debian 12
# and 13 alike. apt-get update runs only when the install fails without it (a fresh machine
# has no package lists yet, or stale ones).
#
# Environment: CHROMIUM (default /usr/bin/chromium, where Debian's package puts it; the browser
# tests read it too).

set -euo pipefail
shopt -s inherit_errexit

prog=$(basename "$0")
chromium=${CHROMIUM:-/usr/bin/chromium}

die() {
    echo "$prog: $*" >&2
    exit 1
}

log() {
    echo "$prog: $*" >&2
}

# The version line, which also proves that the browser starts (its libraries are there).
version() {
    "$chromium" --version 2>/dev/null | head -n 1
}

install_chromium() {
    export DEBIAN_FRONTEND=noninteractive
    # Lock timeout: on a fresh machine something else (cloud-init, unattended-upgrades) may be
    # using dpkg for a while.
    local install=(apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 chromium)
    log "$chromium is missing, installing Debian's chromium package with apt-get"
    if "${install[@]}" </dev/null >&2; then
        return 0
    fi
    log "apt-get install failed; updating the package lists and trying again"
    apt-get update </dev/null >&2 || return 1
    "${install[@]}" </dev/null >&2
}

how_to_install="install Debian's chromium package as root (apt-get install chromium)"

if [[ ! -x $chromium ]]; then
    [[ $(id -u) -eq 0 ]] ||
        die "$chromium is missing and only root can install it: $how_to_install"
    command -v apt-get >/dev/null ||
        die "$chromium is missing and there is no apt-get to install it with: $how_to_install"
    install_chromium || die "could not install Debian's chromium package (apt-get failed, see above)"
    [[ -x $chromium ]] || die "Debian's chromium package is installed but $chromium is not there"
fi

line=$(version) || true
[[ -n $line ]] || die "$chromium does not start ('$chromium --version' failed): $how_to_install"
log "$line at $chromium"
