#!/bin/sh
# demo.sh BUILD_DIR: a working set-up in a temporary directory: musterd, three department
# agents and a live feed; an operator reports an e-bike charging fire in an urban village and
# the feed shows what the daemon committed. Everything stops at the end.
set -eu
B=$(cd "$1" && pwd)
T=$(mktemp -d /tmp/muster-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

say() { printf '\n== %s\n' "$*"; }

say "muster init: a sample district, rosters and CURVE keys in $T/conf"
"$B/clients/muster" init "$T/conf"
# Unix-domain sockets in the temporary directory, so the demo never meets a busy port.
sed -i -e "s|^control = .*|control = \"ipc://$T/control\";|" \
	-e "s|^agents = .*|agents = \"ipc://$T/agents\";|" \
	-e "s|^feed = .*|feed = \"ipc://$T/feed\";|" "$T/conf/musterd.conf"
"$B/daemon/musterd" -n -c "$T/conf/musterd.conf"

say "musterd: starting (readiness is signalled on a pipe)"
mkfifo "$T/ready"
"$B/daemon/musterd" -d -c "$T/conf/musterd.conf" -R 3 3>"$T/ready" 2>"$T/musterd.log" &
pids="$pids $!"
read -r ready <"$T/ready" || true
if [ "${ready:-}" != "READY" ]; then
	cat "$T/musterd.log" >&2
	echo "demo: musterd did not start" >&2
	exit 1
fi
echo "musterd is serving"

say "muster watch: the live feed (every event after it is durable)"
"$B/clients/muster" -c "$T/conf" -k keys/observer.key watch >"$T/feed.txt" 2>"$T/watch.err" &
pids="$pids $!"
i=0
while [ $i -lt 100 ] && ! grep -q watching "$T/watch.err"; do
	i=$((i + 1))
	sleep 0.1
done

say "muster-agent: fire, police and health agents register their units"
for dept in fire police health; do
	"$B/clients/muster-agent" -c "$T/conf" -k "keys/agent-$dept.key" \
		>"$T/agent-$dept.out" 2>"$T/agent-$dept.err" &
	pids="$pids $!"
done
# Wait (bounded) for the three registrations and the watcher's connection.
i=0
while [ $i -lt 100 ]; do
	n=$(cat "$T"/agent-*.out 2>/dev/null | grep -c '^registered' || true)
	if [ "$n" -ge 3 ]; then break; fi
	i=$((i + 1))
	sleep 0.1
done
cat "$T"/agent-*.out

say "muster incident new: an e-bike charging fire in an urban village"
place=$(sed -n 's/.*id = "\(s0[0-9]-c0[0-9]\)".*/\1/p' "$T/conf/district.conf" | head -n 1)
"$B/clients/muster" -c "$T/conf" incident new --type fire.ebike --place "$place" \
	--description "e-bike battery fire in a charging shed, smoke in stairwell 3" \
	--casualties 1 --people-affected 40 --reporter "119 call"
"$B/clients/muster" -c "$T/conf" incident list

say "the live feed (units coming on duty summarised)"
i=0
while [ $i -lt 50 ] && ! grep -q incident.opened "$T/feed.txt"; do
	i=$((i + 1))
	sleep 0.1
done
grep -v ' unit.status ' "$T/feed.txt" | cut -c1-160
echo "... and $(grep -c ' unit.status ' "$T/feed.txt") unit status changes (units on duty)"
say "done: stopping the daemon and the agents"
