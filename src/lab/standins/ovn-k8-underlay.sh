#!/bin/sh
# underlay lab stand-in: not the real ovn-k8-underlay.py
#
# The lab has no OpenStack and no Kubernetes, so the OVN network plugin of the original
# procedure (shettyg/ovn-k8s-poc) cannot run there. `underlay lab up` writes this file
# instead and points the inventory's `plugin_src` at it: playbooks can install it
# (/usr/libexec/kubernetes/kubelet-plugins/net/exec/ovn/ovn) and check its hash and mode.
# Run, it records its arguments (one per line) in
# ${UNDERLAY_STANDIN_DIR:-/var/lib/underlay-standin}/ovn-k8-underlay.args, says what it
# is on stderr and exits 0; with --version it prints what it is on stdout.
set -eu
banner='underlay lab stand-in: not the real ovn-k8-underlay.py'
case "${1:-}" in
  --version) echo "$banner"; exit 0 ;;
esac
dir=${UNDERLAY_STANDIN_DIR:-/var/lib/underlay-standin}
mkdir -p "$dir"
: > "$dir/ovn-k8-underlay.args.tmp"
for arg in "$@"; do
  printf '%s\n' "$arg" >> "$dir/ovn-k8-underlay.args.tmp"
done
mv -f "$dir/ovn-k8-underlay.args.tmp" "$dir/ovn-k8-underlay.args"
echo "$banner" >&2
exit 0
