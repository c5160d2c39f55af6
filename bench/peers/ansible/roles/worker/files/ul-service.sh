# Services supervised the way underlay's `service` module supervises them where systemd
# does not run (lab hosts): /etc/underlay/services/NAME.{json,run,enabled},
# /run/underlay/NAME.{pid,start}, /var/log/underlay/NAME.log. POSIX sh functions, put in
# front of the worker role's service tasks and handlers.
ul_stat() {
  ul_a=$1
  ul_s=
  { IFS= read -r ul_s <"/proc/$ul_a/stat"; } 2>/dev/null
  set -- ${ul_s##*") "}
  if [ $# -lt 20 ]; then
    # a command name holding a newline: the whole file
    ul_s=$(cat "/proc/$ul_a/stat" 2>/dev/null)
    set -- ${ul_s##*") "}
  fi
  [ $# -ge 20 ] || return 1
  ul_state=$1
  ul_since=${20}
}
ul_alive() {
  [ -n "$2" ] && ul_stat "$1" || return 1
  case $ul_state in Z|X|x) return 1 ;; esac
  [ "$ul_since" = "$2" ]
}
ul_running() {
  ul_p=
  ul_t=
  { IFS= read -r ul_p <"/run/underlay/$1.pid"; } 2>/dev/null
  case $ul_p in ''|*[!0-9]*) return 1 ;; esac
  { IFS= read -r ul_t <"/run/underlay/$1.start"; } 2>/dev/null
  ul_alive "$ul_p" "$ul_t"
}
ul_start() {
  ul_n=$1
  { [ -d /run/underlay ] && [ -d /var/log/underlay ]; } || mkdir -p /run/underlay /var/log/underlay || return 1
  if [ -e "/run/underlay/$ul_n.pid" ] || [ -e "/run/underlay/$ul_n.start" ]; then rm -f "/run/underlay/$ul_n.pid" "/run/underlay/$ul_n.start"; fi
  date "+%Y-%m-%dT%H:%M:%S%z underlay: starting $ul_n" >>"/var/log/underlay/$ul_n.log"
  # no job control: the job stays in this shell's process group, so setsid does not fork
  set +m
  setsid sh "/etc/underlay/services/$ul_n.run" </dev/null >>"/var/log/underlay/$ul_n.log" 2>&1 &
  ul_p=$!
  ul_stat "$ul_p" || return 1
  # the start time first, the PID last: a pidfile means both are there
  echo "$ul_since" >"/run/underlay/$ul_n.start" && echo "$ul_p" >"/run/underlay/$ul_n.pid"
}
# Starts NAME, waits 0.25 s (as underlay's default settle) and fails (with the end of its log) if it is not running.
ul_start_checked() {
  ul_start "$1"
  sleep 0.25
  if ! ul_running "$1"; then
    echo "service $1 exited right after it was started; the end of /var/log/underlay/$1.log:" >&2
    tail -n 20 "/var/log/underlay/$1.log" >&2
    exit 1
  fi
}
# SIGTERM to the recorded process's group, up to 5 s, then SIGKILL (2 s more).
ul_stop() {
  ul_pid=
  ul_st=
  { IFS= read -r ul_pid <"/run/underlay/$1.pid"; } 2>/dev/null
  { IFS= read -r ul_st <"/run/underlay/$1.start"; } 2>/dev/null
  if ul_alive "$ul_pid" "$ul_st"; then
    kill -s TERM -- "-$ul_pid" 2>/dev/null || kill -s TERM "$ul_pid" 2>/dev/null
    ul_i=0
    while [ "$ul_i" -lt 100 ] && ul_alive "$ul_pid" "$ul_st"; do sleep 0.05; ul_i=$((ul_i + 1)); done
    if ul_alive "$ul_pid" "$ul_st"; then
      kill -s KILL -- "-$ul_pid" 2>/dev/null || kill -s KILL "$ul_pid" 2>/dev/null
      ul_i=0
      while [ "$ul_i" -lt 40 ] && ul_alive "$ul_pid" "$ul_st"; do sleep 0.05; ul_i=$((ul_i + 1)); done
    fi
    if ul_alive "$ul_pid" "$ul_st"; then echo "service $1 (pid $ul_pid) did not stop" >&2; exit 1; fi
  fi
  rm -f -- "/run/underlay/$1.pid" "/run/underlay/$1.start"
}
# ul_service NAME DEFINITION_B64 LAUNCHER_B64: defined (the two files), enabled at boot,
# started; restarted when what runs changed while it ran (the launcher holds the argv, the
# environment and the working directory; a change of `after` alone is only written).
# Prints "changed: ..." when it did something.
ul_service() {
  ul_d=/etc/underlay/services
  ul_done=
  ul_restart=
  ul_tmp=$(mktemp -d) || exit 1
  printf '%s' "$2" | base64 -d >"$ul_tmp/def" && printf '%s' "$3" | base64 -d >"$ul_tmp/run" || { rm -rf "$ul_tmp"; exit 1; }
  if ! cmp -s "$ul_tmp/def" "$ul_d/$1.json" || ! cmp -s "$ul_tmp/run" "$ul_d/$1.run"; then
    [ -f "$ul_d/$1.json" ] && ! cmp -s "$ul_tmp/run" "$ul_d/$1.run" && ul_restart=1
    mkdir -p -- "$ul_d" &&
      cp "$ul_tmp/def" "$ul_d/$1.json" && chmod 0644 "$ul_d/$1.json" &&
      cp "$ul_tmp/run" "$ul_d/$1.run" && chmod 0755 "$ul_d/$1.run" || { rm -rf "$ul_tmp"; exit 1; }
    ul_done="$ul_done defined"
  fi
  rm -rf "$ul_tmp"
  if [ ! -e "$ul_d/$1.enabled" ]; then
    : >"$ul_d/$1.enabled" || exit 1
    ul_done="$ul_done enabled"
  fi
  if ! ul_running "$1"; then
    ul_start_checked "$1"
    ul_done="$ul_done started"
  elif [ -n "$ul_restart" ]; then
    ul_stop "$1"
    ul_start_checked "$1"
    ul_done="$ul_done restarted (definition changed)"
  fi
  if [ -n "$ul_done" ]; then echo "changed:$ul_done"; else echo "$1 is running (pid $(cat "/run/underlay/$1.pid"))"; fi
}
