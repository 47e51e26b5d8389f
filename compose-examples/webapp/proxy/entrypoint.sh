#!/bin/sh
# nginx resolves `app` again every second through the container's DNS server (the replicas change
# during a rolling update); the server's address is in /etc/resolv.conf, known only at run time.
set -eu
nameserver=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
echo "resolver ${nameserver} valid=1s ipv6=off;" > /tmp/resolver.conf
exec "$@"
