# ip_move FROM TO STATE_DIR ROLLBACK_AFTER [ALLOW_DYNAMIC]: enslave FROM to the bridge TO and move FROM's
# addresses and routes onto TO, as underlay's ip_move module does: the state recorded, a
# rollback script and an on-host rollback timer (armed detached), the move applied as one
# detached script; the caller then confirms over a NEW connection and disarms the timer
# (the next task). Prints "changed: ..." when it moved something, "pending" when an
# earlier move still waits for its confirmation. An IPv4 address from a lease (dynamic) is
# not moved unless ALLOW_DYNAMIC is 1 (the task fails, as the module's does).
ip_move() {
  im_from=$1 im_to=$2 im_dir=$3 im_after=$4 im_allow=${5:-0}
  im_master=$(ip -o link show dev "$im_from" | sed -n 's/.* master \([^ ]*\) .*/\1/p')
  im_up=$(ip -o link show dev "$im_from" | sed -n 's/^[^<]*<\([^>]*\)>.*/,\1,/p')
  im_addrs=$(ip -o addr show dev "$im_from" scope global | awk '$3 == "inet" || ($3 == "inet6" && $0 !~ / dynamic /) { print $3 " " $4 }')
  im_routes4=$(ip -4 route show dev "$im_from" | awk '!/ proto (kernel|ra) /')
  im_routes6=$(ip -6 route show dev "$im_from" | awk '!/ proto (kernel|ra) / && $1 !~ /^fe80:/')
  im_pid=$(cat "$im_dir/$im_from.pid" 2>/dev/null)
  im_armed=
  if [ -n "$im_pid" ] && tr '\0' ' ' <"/proc/$im_pid/cmdline" 2>/dev/null | grep -qF -- "$im_dir/$im_from.timer"; then im_armed=1; fi
  if [ "$im_master" = "$im_to" ] && [ -z "$im_addrs" ] && [ -z "$im_routes4" ] && [ -z "$im_routes6" ]; then
    if [ -n "$im_armed" ]; then echo "pending: $im_from is on $im_to but a rollback timer (pid $im_pid) is armed"; return 0; fi
    echo "$im_from is a port of $im_to and carries no addresses"
    return 0
  fi
  im_leased=$(ip -o -4 addr show dev "$im_from" scope global | awk '/ dynamic / { print $4 }')
  if [ -n "$im_leased" ] && [ "$im_allow" != 1 ]; then
    echo "$im_from holds $(echo $im_leased) from a lease (a DHCP client manages it): not moved; bridge it in the host's own network configuration, or set uplink_allow_dynamic" >&2
    exit 1
  fi
  ip -o link show dev "$im_to" >/dev/null 2>&1 || { echo "bridge $im_to does not exist: create it first" >&2; exit 1; }
  [ -z "$im_armed" ] || { echo "a rollback timer of an earlier move of $im_from is armed (pid $im_pid)" >&2; exit 1; }
  mkdir -p "$im_dir" && chmod 700 "$im_dir" || exit 1
  f=$im_dir/$im_from
  # the recorded state
  {
    echo "from=$im_from to=$im_to master=${im_master:--} flags=$im_up"
    echo "$im_addrs" | sed 's/^/addr /'
    echo "$im_routes4" | sed 's/^/route4 /'
    echo "$im_routes6" | sed 's/^/route6 /'
  } >"$f.state" && chmod 600 "$f.state"
  # rollback: restores FROM as recorded
  {
    echo '#!/bin/sh'
    echo "# Rollback of ip_move $im_from -> $im_to: restores $im_from as recorded in $f.state."
    echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH'
    echo "if ! mv -f $f.pid $f.pid.fired 2>/dev/null; then echo 'ip_move rollback: the timer was disarmed or has fired already: nothing to do'; exit 0; fi"
    echo "pid=\$(cat $f.pid.fired 2>/dev/null)"
    echo "if [ -n \"\$pid\" ] && [ \"\$pid\" != \"\$\$\" ]; then case \$(tr '\\0' ' ' <\"/proc/\$pid/cmdline\" 2>/dev/null) in *$f.timer*) kill \"\$pid\" 2>/dev/null ;; esac; fi"
    echo 'rc=0'
    if [ -n "$im_master" ]; then echo "ip link set dev $im_from master $im_master || rc=1"; else echo "ip link set dev $im_from nomaster || rc=1"; fi
    case $im_up in *,UP,*) echo "ip link set dev $im_from up || rc=1" ;; esac
    echo "$im_addrs" | while read -r fam a; do [ -n "$a" ] && echo "ip addr replace $a dev $im_from || rc=1"; done
    echo "$im_routes4" | while read -r r; do [ -n "$r" ] && echo "ip -4 route replace $r dev $im_from || rc=1"; done
    echo "$im_routes6" | while read -r r; do [ -n "$r" ] && echo "ip -6 route replace $r dev $im_from || rc=1"; done
    echo "$im_addrs" | while read -r fam a; do [ -n "$a" ] && echo "ip addr del $a dev $im_to 2>/dev/null || true"; done
    echo "rm -f $f.pid.fired $f.applied"
    echo ": > $f.rolledback"
    echo 'exit $rc'
  } >"$f.rollback" && chmod 700 "$f.rollback"
  # apply: one detached step; a failing line rolls back at once
  {
    echo '#!/bin/sh'
    echo "# ip_move $im_from -> $im_to: enslaves $im_from and moves its addresses and routes."
    echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH'
    echo "rm -f $f.applied $f.apply-failed"
    echo "fail() { echo \"\$1\" > $f.apply-failed.tmp; /bin/sh $f.rollback; mv -f $f.apply-failed.tmp $f.apply-failed; exit 1; }"
    echo "ip link set dev $im_to up || fail 'up $im_to'"
    [ "$im_master" = "$im_to" ] || echo "ip link set dev $im_from master $im_to || fail 'enslave $im_from'"
    echo "$im_addrs" | while read -r fam a; do [ -n "$a" ] && echo "ip addr replace $a dev $im_to || fail 'addr $a'"; done
    echo "$im_routes4" | while read -r r; do [ -n "$r" ] && echo "ip -4 route replace $r dev $im_to || fail 'route $r'"; done
    echo "$im_routes6" | while read -r r; do [ -n "$r" ] && echo "ip -6 route replace $r dev $im_to || fail 'route $r'"; done
    echo "$im_addrs" | while read -r fam a; do [ -n "$a" ] && echo "ip addr del $a dev $im_from 2>/dev/null || true"; done
    echo ": > $f.applied"
    echo "echo 'ip_move: $im_from moved to $im_to'"
  } >"$f.apply" && chmod 700 "$f.apply"
  # the rollback timer
  {
    echo '#!/bin/sh'
    echo "# Rollback timer of ip_move $im_from -> $im_to: unless disarmed within $im_after s, rolls back."
    echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH'
    echo "echo \$\$ > $f.pid.tmp && mv -f $f.pid.tmp $f.pid || exit 1"
    echo "trap 'kill \"\$s\" 2>/dev/null; exit 0' TERM"
    echo "sleep $im_after &"
    echo 's=$!'
    echo 'wait "$s"'
    echo "trap '' TERM"
    echo "exec /bin/sh $f.rollback"
  } >"$f.timer" && chmod 700 "$f.timer"
  rm -f "$f.pid" "$f.pid.fired" "$f.rolledback"
  setsid /bin/sh "$f.timer" </dev/null >>"$f.log" 2>&1 &
  i=0
  while [ "$i" -lt 50 ] && [ ! -s "$f.pid" ]; do sleep 0.1; i=$((i + 1)); done
  [ -s "$f.pid" ] || { echo "ip_move: the rollback timer did not start" >&2; exit 1; }
  rm -f "$f.applied" "$f.apply-failed"
  setsid /bin/sh "$f.apply" </dev/null >>"$f.log" 2>&1 &
  i=0
  while [ "$i" -lt 300 ]; do
    [ -e "$f.applied" ] && break
    if [ -e "$f.apply-failed" ]; then echo "ip_move: the move failed at: $(cat "$f.apply-failed"); $im_from was restored" >&2; exit 1; fi
    sleep 0.1
    i=$((i + 1))
  done
  [ -e "$f.applied" ] || { echo "ip_move: the move did not finish; the rollback timer restores $im_from" >&2; exit 1; }
  echo "changed: moved $(echo $im_addrs) and the routes of $im_from to $im_to"
}
# ip_move_confirm FROM TO STATE_DIR: TO carries addresses and FROM is its port; then
# disarm the rollback timer. Run over a new connection.
ip_move_confirm() {
  f=$3/$1
  ip -o -4 addr show dev "$2" scope global | grep -q . || { echo "ip_move: $2 carries no address" >&2; exit 1; }
  case "$(ip -o link show dev "$1") " in *" master $2 "*) ;; *) echo "ip_move: $1 is not a port of $2" >&2; exit 1 ;; esac
  if mv -f "$f.pid" "$f.pid.disarmed" 2>/dev/null; then
    pid=$(cat "$f.pid.disarmed")
    case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in *"$f.timer"*) kill "$pid" 2>/dev/null ;; esac
    rm -f "$f.pid.disarmed"
    echo "ip_move: confirmed; rollback timer (pid $pid) disarmed"
  else
    echo "ip_move: confirmed too late: the rollback timer had fired" >&2
    exit 1
  fi
}
