#!/usr/bin/env bash
# Installs the Debian packages ClickPhone needs on this machine; idempotent.
#   mmdebstrap  builds the testbed's Debian sid root with Asterisk 22
#   postgresql  the real PostgreSQL server the test suite runs against
#   openssl     hashes the ARI password where Python has no crypt module
#   opus-tools  opusenc: the Ogg Opus copy attached beside a voicemail's WAV
#   chromium    the browser the console tests drive through Playwright
set -euo pipefail

PACKAGES=(mmdebstrap postgresql openssl ca-certificates opus-tools chromium)

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "install them as root: apt-get install ${missing[*]}" >&2
    exit 1
fi

# The suite starts its own PostgreSQL; the package's default cluster would be
# a server nobody stops.
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi

echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# confold: keep the createcluster.conf written above when the package ships one.
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null
