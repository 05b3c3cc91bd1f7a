#!/bin/sh
# Runs a command in a network namespace of its own (root): loopback plus one veth pair,
# hv0 10.77.0.1 and hv1 10.77.0.2, the suite's own test hosts. For media servers that gather no
# loopback ICE candidates (Janus 1.1): their media then flows between these two addresses,
# inside the namespace, and nothing in it can reach any other network.
#   tests/support/in_netns.sh .venv/bin/pytest tests/janus
exec unshare -n -- sh -c '
  ip link set lo up &&
  ip link add hv0 type veth peer name hv1 &&
  ip addr add 10.77.0.1/24 dev hv0 && ip addr add 10.77.0.2/24 dev hv1 &&
  ip link set hv0 up && ip link set hv1 up &&
  exec "$@"' sh "$@"
