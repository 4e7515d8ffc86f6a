#!/bin/sh
# Print the Debian mirror this machine's apt already uses, so nothing in the
# repo ever names a mirror host.
set -eu
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
    if [ -n "$uri" ]; then echo "$uri"; exit 0; fi
done
if [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
    if [ -n "$uri" ]; then echo "$uri"; exit 0; fi
fi
echo "apt-mirror: no Debian mirror found in the apt configuration" >&2
exit 1
