#!/bin/sh
# The floor of the benchmark (bench/run.js): the whole worker procedure (playbooks/
# PROCEDURE.md W1..W12 and the boot step) as ONE shell script per host, sent over one
# `ssh HOST sh -s`, with no checks: every step is done again on every run, with commands
# that tolerate a second run (`--may-exist`, `replace`, files overwritten). It writes the
# same files and leaves the host in the same state as playbooks/worker.yml, minus the
# safety nets (no rollback timer around the address move, no confirmation over a new
# connection, no liveness check after a service starts: underlay waits `settle`, 0.25 s,
# and checks the program still runs). The only guard kept:
# a service already running is not started twice.
#
# bench/run.js puts the host's values in front of this script as shell assignments:
# HOST_IP MASTER_IP OS_AUTH_URL OS_TENANT_ID OS_TENANT_NAME OS_USERNAME OS_PASSWORD
# OS_VIF_ID DATAPATH GW_IP GW_MAC POD_SUBNET CLUSTER_SUBNET UNARCHIVE_MARKER (the name of the
# marker file underlay's unarchive writes), OVS (`no` on a lab made --without-ovs: the
# ovs-vsctl steps are left out, as underlay's run there leaves out the role's `ovs` tag),
# and the controller's files base64-encoded: PLUGIN_B64 RELEASE_B64 EXEC_ARGS_B64
# SERVICES_BOOT_B64 HAIRPIN_GUARD_B64; then the service module's shell functions
# (SERVICE_LIB in src/modules/service.ts).
set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# W2: the Linux bridge, MAC of eth1
ip link add breth1 type bridge stp_state 0 ageing_time 0 2>/dev/null || ip link set dev breth1 type bridge stp_state 0 ageing_time 0
ip link set dev breth1 address "$(cat /sys/class/net/eth1/address)"
ip link set dev breth1 up

# W3: eth1 into breth1, its addresses and routes onto breth1
addrs=$(ip -o -4 addr show dev eth1 scope global | awk '{ print $4 }')
routes=$(ip -4 route show dev eth1 | awk '!/ proto kernel /')
ip link set dev eth1 master breth1
for a in $addrs; do ip addr replace "$a" dev breth1; done
echo "$routes" | while read -r r; do [ -z "$r" ] || ip route replace $r dev breth1; done
for a in $addrs; do ip addr del "$a" dev eth1; done

# W4: credentials for the plugin
umask 077
cat >/root/openrc <<UL_OPENRC
OS_AUTH_URL=$OS_AUTH_URL
OS_TENANT_ID=$OS_TENANT_ID
OS_TENANT_NAME="$OS_TENANT_NAME"
OS_USERNAME="$OS_USERNAME"
OS_PASSWORD="$OS_PASSWORD"
OS_VIF_ID=$OS_VIF_ID
UL_OPENRC
chmod 0600 /root/openrc
umask 022
if [ "$OVS" = yes ]; then
  ovs-vsctl --timeout=10 set open_vswitch . external_ids:neutron-config='"/root/openrc"'
fi

# W5..W8: br-int, the veth pair, its ends on br-int and breth1
if [ "$OVS" = yes ]; then
  ovs-vsctl --timeout=10 --may-exist add-br br-int -- set bridge br-int datapath_type="$DATAPATH"
fi
ip link add br-int-veth type veth peer name breth1-veth 2>/dev/null || true
ip link set dev br-int-veth up
ip link set dev breth1-veth up
if [ "$OVS" = yes ]; then
  ovs-vsctl --timeout=10 --may-exist add-port br-int br-int-veth
fi
ip link set dev breth1-veth master breth1

# W9: hairpin off, and the guard script
bridge link set dev eth1 hairpin off
bridge link set dev breth1-veth hairpin off
mkdir -p /usr/local/lib/underlay
echo "$HAIRPIN_GUARD_B64" | base64 -d >/usr/local/lib/underlay/hairpin-guard
chmod 0755 /usr/local/lib/underlay/hairpin-guard

# Services, supervised as underlay's service module does where systemd does not run
# (ul_stat, ul_alive, ul_running: the module's own functions, put in front of this
# script by bench/run.js).
# define NAME AFTER WORD...: the definition, the launcher and the enabled flag; AFTER is
# the one service it starts after at boot, or - for none
define() {
  n=$1
  a=$2
  shift 2
  mkdir -p /etc/underlay/services
  {
    printf '{\n  "name": "%s",\n  "exec": [\n' "$n"
    i=0
    for w in "$@"; do
      i=$((i + 1))
      if [ "$i" -lt "$#" ]; then printf '    "%s",\n' "$w"; else printf '    "%s"\n' "$w"; fi
    done
    if [ "$a" = - ]; then
      printf '  ],\n  "env": {},\n  "workdir": "/"\n}\n'
    else
      printf '  ],\n  "env": {},\n  "workdir": "/",\n  "after": [\n    "%s"\n  ]\n}\n' "$a"
    fi
  } >"/etc/underlay/services/$n.json"
  cat >"/etc/underlay/services/$n.run" <<UL_LAUNCHER
#!/bin/sh
# Service $n, supervised by underlay: generated from $n.json, do not edit.
umask 022
cd -- / || exit 1
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
exec $*
UL_LAUNCHER
  chmod 0755 "/etc/underlay/services/$n.run"
  : >"/etc/underlay/services/$n.enabled"
}
start() {
  sn=$1
  ! ul_running "$sn" || return 0
  mkdir -p /run/underlay /var/log/underlay
  rm -f "/run/underlay/$sn.pid" "/run/underlay/$sn.start"
  set +m
  setsid sh "/etc/underlay/services/$sn.run" </dev/null >>"/var/log/underlay/$sn.log" 2>&1 &
  p=$!
  ul_stat "$p"
  echo "$ul_since" >"/run/underlay/$sn.start"
  echo "$p" >"/run/underlay/$sn.pid"
}
define hairpin-guard - /usr/local/lib/underlay/hairpin-guard
start hairpin-guard

# W10: the network plugin
mkdir -p /usr/libexec/kubernetes/kubelet-plugins/net/exec/ovn
echo "$PLUGIN_B64" | base64 -d >/usr/libexec/kubernetes/kubelet-plugins/net/exec/ovn/ovn
chmod 0755 /usr/libexec/kubernetes/kubelet-plugins/net/exec/ovn/ovn

# W11: kubelet and kube-proxy
mkdir -p /opt/kubernetes /etc/kubernetes
echo "$RELEASE_B64" | base64 -d | tar -xzf - -C /opt/kubernetes --strip-components=1 kubernetes/server/bin/kubelet kubernetes/server/bin/kube-proxy
# the marker underlay's unarchive keeps for this archive and these options
rm -f /opt/kubernetes/.underlay-unarchive.*
: >"/opt/kubernetes/$UNARCHIVE_MARKER"
echo "$EXEC_ARGS_B64" | base64 -d >/usr/local/lib/underlay/exec-args
chmod 0755 /usr/local/lib/underlay/exec-args
cat >/etc/kubernetes/kubelet.args <<UL_KUBELET
# kubelet flags, one per line (written by underlay from templates/kubelet.args.hbs)
--api-servers=http://$MASTER_IP:8080
--v=2
--address=0.0.0.0
--enable-server
--hostname-override=$HOST_IP
--network-plugin=ovn
--cluster-dns=172.16.2.10
--cluster-domain=cluster.local
UL_KUBELET
cat >/etc/kubernetes/kube-proxy.args <<UL_PROXY
# kube-proxy flags, one per line (written by underlay from templates/kube-proxy.args.hbs)
--master=$MASTER_IP:8080
--v=2
UL_PROXY
define kubelet docker /usr/local/lib/underlay/exec-args /etc/kubernetes/kubelet.args /opt/kubernetes/server/bin/kubelet
start kubelet
define kube-proxy - /usr/local/lib/underlay/exec-args /etc/kubernetes/kube-proxy.args /opt/kubernetes/server/bin/kube-proxy
start kube-proxy

# W12: load balancing
[ -e /proc/sys/net/bridge/bridge-nf-filter-vlan-tagged ] || modprobe br_netfilter
echo br_netfilter >/etc/modules-load.d/underlay-br_netfilter.conf
echo net.bridge.bridge-nf-filter-vlan-tagged=1 >/etc/sysctl.d/99-underlay.conf
sysctl -q -w net.bridge.bridge-nf-filter-vlan-tagged=1
iptables -w 5 -C FORWARD -i breth1 -o breth1 -j ACCEPT 2>/dev/null || iptables -w 5 -I FORWARD -i breth1 -o breth1 -j ACCEPT
ip neigh replace "$GW_IP" lladdr "$GW_MAC" dev breth1 nud permanent
ip route replace "$GW_IP/32" dev breth1
ip route replace "$POD_SUBNET" dev breth1
ip route replace "$CLUSTER_SUBNET" via "$GW_IP" dev breth1

# The boot step (no systemd here): the services' and the network's
echo "$SERVICES_BOOT_B64" | base64 -d >/usr/local/lib/underlay/services-boot
chmod 0755 /usr/local/lib/underlay/services-boot
sed -e "s|@GW_IP@|$GW_IP|g" -e "s|@GW_MAC@|$GW_MAC|g" -e "s|@POD_SUBNET@|$POD_SUBNET|g" -e "s|@CLUSTER_SUBNET@|$CLUSTER_SUBNET|g" >/usr/local/lib/underlay/network-boot <<'UL_BOOT_EOF'
#!/bin/sh
# Boot step of a Kubernetes worker with OVN underlay networking (written by underlay's
# worker role from templates/underlay-network-boot.sh.hbs: changes made here are
# overwritten).
#
# Re-applies what the kernel forgets on a reboot, in the order of the procedure: the
# Linux bridge breth1 (STP off, ageing, the MAC of eth1), eth1 enslaved to it
# with its addresses and routes moved onto the bridge, the veth pair
# br-int-veth/breth1-veth up and enslaved, hairpin off on the bridge's
# ports, and the load-balancing sysctl, neighbour and routes. Open vSwitch
# keeps br-int and its port br-int-veth in its database.
# eth1's addresses and routes are taken as the system configured them at boot.
# Where systemd does not run, it then starts the services supervised by underlay that are
# enabled.
#
# Idempotent: on a host in that state already it changes nothing. Exit status 1 when a
# step failed (the others are still applied).
set -uf
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
LC_ALL=C
export LC_ALL

UPLINK=eth1
BRIDGE=breth1
AGEING=0
OVS_BRIDGE=br-int
OVS_END=br-int-veth
BR_END=breth1-veth
SERVICES_BOOT=/usr/local/lib/underlay/services-boot

rc=0
log() { echo "underlay-network-boot: $*"; }
step() {
  "$@" || { log "failed: $*"; rc=1; }
}
exists() { ip link show dev "$1" >/dev/null 2>&1; }

# The uplink may appear late (drivers, renaming): wait at most 10 s.
i=0
while ! exists "$UPLINK" && [ "$i" -lt 100 ]; do
  sleep 0.1
  i=$((i + 1))
done
if ! exists "$UPLINK"; then
  log "no interface $UPLINK: nothing done"
  exit 1
fi

# W2: the bridge, its settings and its MAC (the uplink's).
if ! exists "$BRIDGE"; then
  step ip link add "$BRIDGE" type bridge stp_state 0 ageing_time $((AGEING * 100))
fi
step ip link set dev "$BRIDGE" type bridge stp_state 0 ageing_time $((AGEING * 100))
mac=$(cat "/sys/class/net/$UPLINK/address")
[ -z "$mac" ] || step ip link set dev "$BRIDGE" address "$mac"
step ip link set dev "$BRIDGE" up

# W3: the uplink joins the bridge; its addresses and routes move onto the bridge.
# Addresses: global IPv4, and static global IPv6 (not learnt ones). "FAMILY ADDR [brd B]".
# An IPv4 address from a DHCP lease (dynamic) stays where its client put it, unless
# uplink_allow_dynamic says to move it as a static one (as the ip_move step does).
addrs=$(
  ip -o addr show dev "$UPLINK" scope global | awk -v allow_dynamic=0 '
    $3 == "inet" && $0 ~ / dynamic / && !allow_dynamic {
      print "underlay-network-boot: " $4 " on the uplink is from a DHCP lease: not moved (uplink_allow_dynamic)" > "/dev/stderr"
      next
    }
    $3 == "inet" || ($3 == "inet6" && $0 !~ / dynamic /) {
      line = $3 " " $4
      for (i = 5; i < NF; i++) if ($i == "brd") line = line " brd " $(i + 1)
      print line
    }'
)
# Routes through the uplink that were configured (not the kernel own prefix routes, local
# or broadcast entries, router advertisements or link-local), as `ip route` prints them.
routes() {
  ip "$1" route show table all dev "$UPLINK" | awk '
    $1 ~ /^(local|broadcast|anycast|multicast|unreachable|prohibit|blackhole|throw|nat)$/ { next }
    $1 ~ /^fe80:/ { next }
    / proto (kernel|ra) / || / table local / { next }
    {
      out = ""
      for (i = 1; i <= NF; i++) {
        # state flags ip prints but does not take back
        if ($i ~ /^(linkdown|dead|offload|trap|offload_failed|rt_offload|rt_trap|rt_offload_failed|pervasive|notify|unresolved)$/) continue
        if ($i == "pref" || $i == "expires") { i++; continue }
        out = out (out == "" ? "" : " ") $i
      }
      print out
    }'
}
routes4=$(routes -4)
routes6=$(routes -6)

master=$(ip -o link show dev "$UPLINK" | sed -n 's/.* master \([^ ]*\) .*/\1/p')
[ "$master" = "$BRIDGE" ] || step ip link set dev "$UPLINK" master "$BRIDGE"
step ip link set dev "$UPLINK" up
while read -r fam addr extra; do
  [ -n "$fam" ] || continue
  if [ "$fam" = inet6 ]; then
    step ip -6 addr replace "$addr" $extra dev "$BRIDGE" nodad
  else
    step ip addr replace "$addr" $extra dev "$BRIDGE"
  fi
done <<EOF
$addrs
EOF
while read -r r; do
  [ -z "$r" ] || step ip -4 route replace $r dev "$BRIDGE"
done <<EOF
$routes4
EOF
while read -r r; do
  [ -z "$r" ] || step ip -6 route replace $r dev "$BRIDGE"
done <<EOF
$routes6
EOF
# Last, the addresses leave the uplink (its routes go with them).
while read -r fam addr extra; do
  [ -n "$fam" ] || continue
  if [ "$fam" = inet6 ]; then
    ip -6 addr del "$addr" dev "$UPLINK" 2>/dev/null || true
  else
    ip addr del "$addr" dev "$UPLINK" 2>/dev/null || true
  fi
done <<EOF
$addrs
EOF

# W6/W8: the veth pair, both ends up, one end in the bridge.
if ! exists "$OVS_END"; then
  step ip link add "$OVS_END" type veth peer name "$BR_END"
fi
step ip link set dev "$OVS_END" up
step ip link set dev "$BR_END" up
master=$(ip -o link show dev "$BR_END" | sed -n 's/.* master \([^ ]*\) .*/\1/p')
[ "$master" = "$BRIDGE" ] || step ip link set dev "$BR_END" master "$BRIDGE"

# W7: the port is in the Open vSwitch database already; make sure (bounded wait).
if command -v ovs-vsctl >/dev/null 2>&1; then
  ovs-vsctl --timeout=10 --may-exist add-port "$OVS_BRIDGE" "$OVS_END" || log "ovs-vsctl: could not check port $OVS_END of $OVS_BRIDGE"
fi

# W9: hairpin off on the guarded ports (the hairpin guard keeps it off).
for p in eth1 breth1-veth; do
  step bridge link set dev "$p" hairpin off
done

# W12: load balancing.
if [ ! -e /proc/sys/net/bridge/bridge-nf-filter-vlan-tagged ]; then
  modprobe br_netfilter 2>/dev/null || true
fi
step sysctl -q -w net.bridge.bridge-nf-filter-vlan-tagged=1
iptables -w 5 -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
  step iptables -w 5 -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
step ip neigh replace @GW_IP@ lladdr @GW_MAC@ dev "$BRIDGE" nud permanent
step ip route replace @GW_IP@/32 dev "$BRIDGE"
step ip route replace @POD_SUBNET@ dev "$BRIDGE"
step ip route replace @CLUSTER_SUBNET@ via @GW_IP@ dev "$BRIDGE"

# The services supervised by underlay (no systemd here): those enabled are started.
if [ ! -d /run/systemd/system ] && [ -x "$SERVICES_BOOT" ]; then
  "$SERVICES_BOOT" || rc=1
fi
exit $rc
UL_BOOT_EOF
chmod 0755 /usr/local/lib/underlay/network-boot
echo "floor: done"
