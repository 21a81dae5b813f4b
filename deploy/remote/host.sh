#!/bin/sh
# Runs on a relay host, piped over SSH by the deploy script on every call
# (`ssh HOST sh -s -- CMD ARGS` with this file as stdin), so a host needs nothing
# but a POSIX shell, tar and coreutils, and a dry run leaves nothing behind.
# Every command is idempotent; each prints key=value lines the deploy script parses.
#
# Layout under INSTALL_DIR:
#   releases/<version>/   unpacked release bundles (immutable)
#   runtimes/<id>/        Node runtimes the releases link to (releases/<v>/node)
#   current -> releases/<version>     what runs
#   previous -> releases/<version>    what a rollback returns to
#   incoming/             uploads in progress
#   run/                  fallback supervisor's pidfiles and log
set -eu
cmd=${1:?command}
shift

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# Resolves the service manager for a host: auto → systemd when it runs as init.
manager() {
  case "$1" in
    auto) if systemd_running; then echo systemd; else echo supervise; fi ;;
    *) echo "$1" ;;
  esac
}

target_of() { [ -L "$1" ] && basename "$(readlink "$1")" || echo none; }

case "$cmd" in
  state)
    # state INSTALL_DIR ENV_FILE STATE_DIR SERVICE
    dir=$1 env_file=$2 state_dir=$3 mode=$(manager "$4")
    echo "manager=$mode"
    echo "current=$(target_of "$dir/current")"
    echo "previous=$(target_of "$dir/previous")"
    echo "releases=$(ls "$dir/releases" 2>/dev/null | tr '\n' ',' || true)"
    echo "runtimes=$(ls "$dir/runtimes" 2>/dev/null | tr '\n' ',' || true)"
    if [ -f "$env_file" ]; then echo "env=$(base64 -w0 <"$env_file")"; else echo "env="; fi
    if [ -s "$state_dir/node-token" ]; then echo "node_token_file=yes"; else echo "node_token_file=no"; fi
    if [ "$mode" = systemd ]; then
      if systemctl is-active --quiet edgesocks-relay.service; then echo "running=yes"; else echo "running=no"; fi
    elif [ -x "$dir/current/bin/edgesocks-relay-supervise" ] &&
      "$dir/current/bin/edgesocks-relay-supervise" status "$dir" "$env_file" >/dev/null 2>&1; then
      echo "running=yes"
    else
      echo "running=no"
    fi
    ;;

  install)
    # install INSTALL_DIR KIND(release|runtime) NAME TARBALL: unpack next to the others, atomically.
    dir=$1 kind=$2 name=$3 tarball=$4
    parent="$dir/${kind}s"
    if [ -d "$parent/$name" ]; then
      rm -f "$tarball"
      echo "installed=already"
      exit 0
    fi
    mkdir -p "$parent"
    tmp="$parent/.$name.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    tar -xzf "$tarball" -C "$tmp" --no-same-owner
    if [ "$kind" = release ] && ! grep -q "\"version\": \"$name\"" "$tmp/release.json"; then
      rm -rf "$tmp"
      echo "release.json in $tarball does not say version $name" >&2
      exit 1
    fi
    chmod 755 "$tmp"
    mv "$tmp" "$parent/$name"
    rm -f "$tarball"
    echo "installed=yes"
    ;;

  write-file)
    # write-file PATH MODE BASE64: atomic replace (temp file, rename); small files only.
    path=$1 mode=$2 content=$3
    mkdir -p "$(dirname "$path")"
    tmp="$path.tmp.$$"
    (umask 077 && printf '%s' "$content" | base64 -d >"$tmp")
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
    echo "written=$path"
    ;;

  ensure-user)
    # ensure-user USER GROUP [STATE_DIR]: a system account without a shell or home.
    user=$1 group=$2
    if ! getent group "$group" >/dev/null 2>&1; then groupadd --system "$group"; fi
    if ! id -u "$user" >/dev/null 2>&1; then
      useradd --system --gid "$group" --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    fi
    # Under systemd a state dir outside /var/lib (no StateDirectory=) is prepared here.
    if [ -n "${3:-}" ]; then
      mkdir -p "$3"
      chown "$user:$group" "$3"
      chmod 700 "$3"
    fi
    echo "user=$(id -u "$user"):$(getent group "$group" | cut -d: -f3)"
    ;;

  activate)
    # activate INSTALL_DIR VERSION: previous := current, current := VERSION (rename is atomic).
    dir=$1 version=$2
    [ -d "$dir/releases/$version" ] || { echo "no release $version in $dir/releases" >&2; exit 1; }
    old=$(target_of "$dir/current")
    if [ "$old" != "$version" ] && [ "$old" != none ]; then
      ln -sfn "releases/$old" "$dir/previous.tmp" && mv -Tf "$dir/previous.tmp" "$dir/previous"
    fi
    ln -sfn "releases/$version" "$dir/current.tmp" && mv -Tf "$dir/current.tmp" "$dir/current"
    echo "current=$version"
    echo "previous=$(target_of "$dir/previous")"
    ;;

  rollback)
    # rollback INSTALL_DIR: current := previous (the failed release stays on disk for inspection).
    dir=$1
    prev=$(target_of "$dir/previous")
    [ "$prev" != none ] || { echo "no previous release to roll back to" >&2; exit 1; }
    ln -sfn "releases/$prev" "$dir/current.tmp" && mv -Tf "$dir/current.tmp" "$dir/current"
    rm -f "$dir/previous"
    echo "current=$prev"
    ;;

  restart)
    # restart INSTALL_DIR ENV_FILE SERVICE [UNIT_FILE]: (re)start under systemd or the fallback supervisor.
    dir=$1 env_file=$2 mode=$(manager "$3") unit=${4:-}
    if [ "$mode" = systemd ]; then
      if [ -n "$unit" ]; then
        if ! cmp -s "$unit" /etc/systemd/system/edgesocks-relay.service; then
          mv -f "$unit" /etc/systemd/system/edgesocks-relay.service
        else
          rm -f "$unit"
        fi
        systemctl daemon-reload
      fi
      systemctl enable --quiet edgesocks-relay.service
      systemctl restart edgesocks-relay.service
      echo "restarted=systemd"
    else
      "$dir/current/bin/edgesocks-relay-supervise" restart "$dir" "$env_file"
      echo "restarted=supervise"
    fi
    ;;

  stop)
    # stop INSTALL_DIR ENV_FILE SERVICE
    dir=$1 env_file=$2 mode=$(manager "$3")
    if [ "$mode" = systemd ]; then
      systemctl stop edgesocks-relay.service || true
    elif [ -x "$dir/current/bin/edgesocks-relay-supervise" ]; then
      "$dir/current/bin/edgesocks-relay-supervise" stop "$dir" "$env_file"
    fi
    echo "stopped=yes"
    ;;

  ready)
    # ready INSTALL_DIR OPS_HOST:PORT: the relay's /ready, asked with the release's own Node.
    dir=$1 ops=$2
    case "$ops" in 0.0.0.0:*) ops="127.0.0.1:${ops#0.0.0.0:}" ;; "[::]:"*) ops="[::1]:${ops#\[::\]:}" ;; esac
    "$dir/current/node/bin/node" -e '
      fetch("http://" + process.argv[1] + "/ready", { signal: AbortSignal.timeout(2000) })
        .then((r) => { console.log("ready=" + (r.ok ? "yes" : "no")); process.exit(r.ok ? 0 : 1); })
        .catch((e) => { console.log("ready=no"); console.error(String(e.cause ?? e)); process.exit(1); });
    ' "$ops"
    ;;

  logs)
    # logs INSTALL_DIR SERVICE LINES: the last lines of the relay's log, for failure reports.
    dir=$1 mode=$(manager "$2") lines=$3
    if [ "$mode" = systemd ]; then
      journalctl -u edgesocks-relay.service -n "$lines" --no-pager 2>&1 || true
    else
      tail -n "$lines" "$dir/run/relay.log" 2>/dev/null || true
    fi
    ;;

  prune)
    # prune INSTALL_DIR KEEP: delete the oldest releases beyond KEEP, never current or previous,
    # and runtimes no release links to.
    dir=$1 keep=$2
    cur=$(target_of "$dir/current")
    prev=$(target_of "$dir/previous")
    # Newest first by modification time of the release directory.
    n=0
    for rel in $(ls -1t "$dir/releases" 2>/dev/null); do
      if [ "$rel" = "$cur" ] || [ "$rel" = "$prev" ]; then continue; fi
      n=$((n + 1))
      if [ "$n" -gt "$keep" ]; then rm -rf "${dir:?}/releases/$rel" && echo "pruned=$rel"; fi
    done
    for rt in $(ls -1 "$dir/runtimes" 2>/dev/null); do
      used=no
      for rel in "$dir"/releases/*/; do
        [ "$(basename "$(readlink "${rel}node" 2>/dev/null || echo x)")" = "$rt" ] && used=yes
      done
      [ "$used" = no ] && rm -rf "${dir:?}/runtimes/$rt" && echo "pruned_runtime=$rt"
    done
    echo "pruned=done"
    ;;

  *)
    echo "host.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
