#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (falls back to deb.debian.org).
# Shared by .ci/install-docker.sh and tests/docker/images/build.sh.
mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
            /etc/apt/sources.list.d/*.list 2>/dev/null \
         | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1 || true)
mirror=${mirror%/}
echo "${mirror:-http://deb.debian.org/debian}"
