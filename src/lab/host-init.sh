#!/bin/sh
# underlay lab: the init of one lab host.
#
# Started by `underlay lab up` (src/lab/index.ts) as
#   ip netns exec NETNS unshare --mount --uts --ipc --pid --fork --kill-child \
#     --propagation slave /bin/sh host-init.sh HOSTDIR ROLE HOSTNAME ADDRESS OVS
# so it runs as PID 1 of the host's own PID namespace, inside the host's network namespace,
# with a private mount, UTS and IPC namespace. It:
#   1. writes its PID as the root namespace sees it to HOSTDIR/pid (the host's handle:
#      killing that PID ends every process of the host);
#   2. configures eth1, lo and the default route (HOSTDIR/net.batch, one `ip` process);
#   3. gives the host its own files: drops the copies of /run/netns (they would pin other
#      hosts' namespaces), then mounts HOSTDIR/fstab in one `mount` process: overlays over
#      /etc /usr /opt /var, fresh directories over /root /run /tmp /home /srv /mnt, a
#      fresh /proc and a private /dev/shm;
#   4. sets the hostname, starts Open vSwitch in userspace (ovsdb-server, ovs-vswitchd;
#      not when OVS is `no-ovs`: a host of `lab up --without-ovs`) and, on the central
#      host, OVN central (NB and SB ovsdb-servers, ovn-northd);
#   5. becomes the host's sshd (`exec sshd -D`), which stays PID 1 of the host.
# Paths from HOSTDIR are relative to the working directory (HOSTDIR), which stays valid
# after mounts cover its parents (e.g. a state directory under /tmp or /root).
# Every step is a readiness point: OVS and OVN daemons return from --detach only once
# they serve; a failing step ends the script (set -e) and the host with it; `lab up`
# then shows HOSTDIR/init.log.
set -eu

hostdir=$1
role=$2
name=$3
address=$4
ovs=$5

cd "$hostdir"

# 1. The PID of this process in the root PID namespace: the first NSpid field.
pid=
while IFS= read -r line; do
  case $line in
    NSpid:*) set -- $line; pid=$2 ;;
  esac
done < /proc/self/status
[ -n "$pid" ] || { echo "host-init: no NSpid in /proc/self/status" >&2; exit 1; }
echo "$pid" > pid

# 2. Network: eth1 with the management address, lo, default route via the lab bridge.
ip -batch net.batch

# 3. Files of its own.
umount -l /run/netns 2>/dev/null || :
mount --no-canonicalize -a -T ./fstab
echo "$name" > /proc/sys/kernel/hostname

# 4. Open vSwitch, userspace datapath only (bridges need datapath_type=netdev).
if [ "$ovs" = ovs ]; then
  ovsdb-server /etc/openvswitch/conf.db \
    --remote=punix:/var/run/openvswitch/db.sock \
    --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
    --pidfile --detach --no-chdir --log-file
  ovs-vswitchd unix:/var/run/openvswitch/db.sock --pidfile --detach --no-chdir --log-file
fi

if [ "$role" = central ]; then
  ovsdb-server /var/lib/ovn/ovnnb_db.db \
    --remote=punix:/var/run/ovn/ovnnb_db.sock \
    --remote=ptcp:6641:"$address" \
    --remote=db:OVN_Northbound,NB_Global,connections \
    --unixctl=/var/run/ovn/ovnnb_db.ctl \
    --pidfile=/var/run/ovn/ovnnb_db.pid \
    --log-file=/var/log/ovn/ovsdb-server-nb.log \
    --detach --no-chdir
  ovsdb-server /var/lib/ovn/ovnsb_db.db \
    --remote=punix:/var/run/ovn/ovnsb_db.sock \
    --remote=ptcp:6642:"$address" \
    --remote=db:OVN_Southbound,SB_Global,connections \
    --unixctl=/var/run/ovn/ovnsb_db.ctl \
    --pidfile=/var/run/ovn/ovnsb_db.pid \
    --log-file=/var/log/ovn/ovsdb-server-sb.log \
    --detach --no-chdir
  ovn-northd \
    --ovnnb-db=unix:/var/run/ovn/ovnnb_db.sock \
    --ovnsb-db=unix:/var/run/ovn/ovnsb_db.sock \
    --pidfile=/var/run/ovn/ovn-northd.pid \
    --log-file=/var/log/ovn/ovn-northd.log \
    --detach --no-chdir
fi

# 5. The host's sshd, as PID 1 of the host from now on.
exec /usr/sbin/sshd -D -f /etc/ssh/sshd_config -E /var/log/sshd.log
