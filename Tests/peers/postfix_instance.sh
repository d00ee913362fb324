#!/usr/bin/env bash
# A throwaway Postfix instance for the delivery tests (`smimegate deliver` over SMTP and
# sendmail): its own config, queue and port under DIR, beside any system Postfix and never
# touching it. Mail for every address of every domain, from sendmail or from smtpd on
# 127.0.0.1:PORT, lands in the maildir DIR/mail/<domain>/<localpart>/ (lower case) with
# Return-Path:, X-Original-To: and Delivered-To: on top. Nothing is looked up in DNS or
# sent out (there is no smtp client in master.cf).
#
# The delivery agent is pipe(8) running DIR/config/deliver, not virtual(8): virtual(8)
# opens virtual_mailbox_maps "paranoid" (no $1 substitution from regexp or pcre tables, no
# tcp or socketmap tables), so it cannot name a maildir after an address it was not told of.
#
# usage: postfix_instance.sh start DIR   make DIR/{config,queue,data,mail}, start, and print
#                                        PORT=<smtpd port> and SENDMAIL=DIR/sendmail
#        postfix_instance.sh stop DIR    stop it; DIR (maildirs, maillog, queue) stays, and
#                                        a later start in DIR delivers what is queued there
#        postfix_instance.sh flush DIR   postqueue -f: retry deferred mail now
#        postfix_instance.sh wait DIR COUNT [SECONDS]
#                                        wait until COUNT files are in DIR/mail/*/*/new/
#                                        (60 s; else the queue and the maillog, exit 1)
# Needs root (Postfix's master does) and the Debian package postfix (scripts/setup.sh).
set -euo pipefail

die() {
  echo "postfix_instance: $*" >&2
  exit 1
}
[[ $# -ge 2 ]] || die "usage: $0 start|stop|flush|wait DIR [COUNT [SECONDS]]"
command=$1
dir=$(realpath -m "$2")
config=$dir/config
owner=nobody # the deliveries run as this user (pipe(8) refuses root)

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Succeeds once something on 127.0.0.1:$1 answers with an SMTP greeting.
greets() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && read -r line <&3 && [[ \$line == 220* ]]" 2>/dev/null
}

write_config() {
  cat >"$config/main.cf" <<EOF
# Throwaway instance made by Tests/peers/postfix_instance.sh
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mx.smimegate.test
mydomain = smimegate.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
mydestination =
alias_maps =
local_recipient_maps =
default_transport = maildir
relay_transport = maildir
maildir_destination_recipient_limit = 1
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 10s
biff = no
EOF
  cat >"$config/master.cf" <<EOF
# service type  private unpriv chroot wakeup maxproc command
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
maildir   unix  - n n -     - pipe
  flags=DROhu null_sender= user=$owner argv=$config/deliver $dir/mail \${recipient}
EOF
  cat >"$config/deliver" <<'EOF'
#!/bin/sh
# usage: deliver MAILROOT RECIPIENT < message: into MAILROOT/<domain>/<localpart>/new/
case $2 in *@*) ;; *) echo "no domain: $2"; exit 67 ;; esac # EX_NOUSER: a bounce
user=${2%@*} domain=${2##*@}
for part in "$user" "$domain"; do
  case $part in ''|.*|*/*) echo "not usable as a directory name: $2"; exit 67 ;; esac
done
box=$1/$domain/$user name=$(date +%s.%N).P$$.mx
mkdir -p "$box/tmp" "$box/new" "$box/cur" && cat >"$box/tmp/$name" &&
  mv "$box/tmp/$name" "$box/new/$name" || exit 75 # EX_TEMPFAIL: Postfix retries
EOF
  chmod 0755 "$config/deliver"
  # Postfix waits (about 2 s) for a main.cf changed within the last second to settle.
  touch -d "-10 seconds" "$config/main.cf" "$config/master.cf"
}

start() {
  [[ $(id -u) -eq 0 ]] || die "Postfix's master needs root"
  [[ $dir != *[[:space:]]* ]] || die "DIR must not contain white space (it goes into master.cf)"
  ! ours "$(master_pid)" || die "already running in $dir"
  mkdir -p "$config" "$dir/queue" "$dir/data" "$dir/mail"
  chmod 0755 "$dir" "$config" "$dir/queue" # the postfix user and $owner must reach their parts
  chown postfix: "$dir/data"
  chown "$owner:" "$dir/mail"
  runuser -u "$owner" -- test -w "$dir/mail" ||
    die "$owner cannot reach $dir/mail: let every user search (o+x) its parent directories"
  printf '#!/bin/sh\nexec /usr/sbin/sendmail -C %s "$@"\n' "$config" >"$dir/sendmail"
  chmod 0755 "$dir/sendmail"
  local port
  for _ in 1 2 3; do # the free port may be taken before master binds it: try another
    port=$(free_port)
    write_config "$port"
    if postfix -c "$config" start 2>"$dir/start.log"; then
      for _ in $(seq 100); do
        if greets "$port"; then
          echo "PORT=$port"
          echo "SENDMAIL=$dir/sendmail"
          return 0
        fi
        sleep 0.05
      done
      stop
      die "smtpd does not answer on 127.0.0.1:$port; see $dir/maillog"
    fi
    grep -q "port $port: Address already in use" "$dir/maillog" 2>/dev/null || break
  done
  cat "$dir/start.log" >&2
  die "postfix did not start; see $dir/maillog"
}

master_pid() {
  { tr -d ' ' <"$dir/queue/pid/master.pid"; } 2>/dev/null || true
}

# Is process $1 one of this instance's? Postfix hands its programs the config as MAIL_CONFIG.
ours() {
  [[ -n $1 && $1 != "$$" ]] && grep -qzxF "MAIL_CONFIG=$config" "/proc/$1/environ" 2>/dev/null
}

stop() {
  local pid proc
  # What `postfix stop` does (master ends its children on SIGTERM), without its 1 s polls.
  pid=$(master_pid)
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      ours "$pid" || break
      sleep 0.05
    done
  fi
  for proc in /proc/[0-9]*; do
    if ours "${proc#/proc/}"; then kill -9 "${proc#/proc/}" 2>/dev/null || true; fi
  done
}

delivered() {
  find "$dir"/mail/*/*/new -maxdepth 1 -type f 2>/dev/null | wc -l
}

wait_for() {
  local count=$1 seconds=${2:-60}
  local deadline=$((${EPOCHREALTIME/./} + seconds * 1000000))
  while (($(delivered) < count)); do
    if ((${EPOCHREALTIME/./} >= deadline)); then
      echo "postfix_instance: $(delivered) of $count messages delivered after $seconds s" >&2
      postqueue -c "$config" -p >&2 || true
      tail -n 30 "$dir/maillog" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
}

case $command in
start) start ;;
stop) stop ;;
flush) postqueue -c "$config" -f ;;
wait) wait_for "${3:?usage: $0 wait DIR COUNT [SECONDS]}" "${4:-60}" ;;
*) die "unknown command $command" ;;
esac
