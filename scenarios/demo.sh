#!/bin/sh
# demo.sh BUILD_DIR: a working set-up in a temporary directory: musterd, every department's
# agent and a live feed; an operator reports an e-bike charging fire in an urban village and
# the feed shows what the daemon committed. Then a drill of the scenario library runs on a
# virtual clock and the demo ends with its after-action report. Everything stops at the end.
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
while [ $i -lt 100 ] && ! grep -qs watching "$T/watch.err"; do
	i=$((i + 1))
	sleep 0.1
done

say "muster-agent: every department's agent, simulating its units (20x speed)"
n_agents=0
for key in "$T"/conf/keys/agent-*.key; do
	dept=$(basename "$key" .key)
	"$B/clients/muster-agent" -c "$T/conf" -k "keys/$dept.key" --simulate \
		--model "$(pwd)/scenarios/models/default.conf" --seed 7 --speed 20 \
		>"$T/$dept.out" 2>"$T/$dept.err" &
	pids="$pids $!"
	n_agents=$((n_agents + 1))
done
# Wait (bounded) for every registration.
i=0
while [ $i -lt 100 ]; do
	n=$(cat "$T"/agent-*.out 2>/dev/null | grep -c '^registered' || true)
	if [ "$n" -ge "$n_agents" ]; then break; fi
	i=$((i + 1))
	sleep 0.1
done
for f in "$T"/agent-*.out; do
	printf '%-22s %s\n' "$(basename "$f" .out):" "$(grep -m1 '^registered' "$f")"
done

say "muster incident new: an e-bike charging fire in an urban village, 2 hurt"
place=$(sed -n 's/.*id = "\(s0[0-9]-c0[0-9]\)".*/\1/p' "$T/conf/district.conf" | sed -n 5p)
id=$("$B/clients/muster" -c "$T/conf" incident new --type fire.ebike --place "$place" \
	--description "e-bike battery fire in a charging shed, smoke in stairwell 3" \
	--casualties 2 --people-affected 40 --building urban_village --reporter "119 call" \
	--json | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
echo "incident #$id reported; the joint action group is being mustered"

say "the group after a few (simulated) minutes"
i=0
while [ $i -lt 150 ]; do
	"$B/clients/muster" -c "$T/conf" incident show "$id" >"$T/show.txt"
	left=$(grep -c ' SENT \| RECEIVED \| ACCEPTED \| EN_ROUTE ' "$T/show.txt" || true)
	if [ "$left" -eq 0 ] && grep -q ON_SCENE "$T/show.txt"; then break; fi
	i=$((i + 1))
	sleep 0.2
done
cat "$T/show.txt"

say "the live feed (agents, units and orders summarised)"
i=0
while [ $i -lt 50 ] && ! grep -q incident.opened "$T/feed.txt"; do
	i=$((i + 1))
	sleep 0.1
done
grep -v ' unit.status \| order\.\| agent.registered ' "$T/feed.txt" | cut -c1-160
echo "... with $(grep -c ' agent.registered ' "$T/feed.txt") agents registered," \
	"$(grep -c ' unit.status ' "$T/feed.txt") unit status changes and" \
	"$(grep -c ' order\.' "$T/feed.txt") order events"
say "done: stopping the daemon and the agents"
cleanup
pids=""
trap - EXIT INT TERM

say "muster drill run: a knife attack in a mall, drilled on a virtual clock (docs/drills.md)"
S=$(cd "$(dirname "$0")" && pwd)
rc=0
MUSTERD="$B/daemon/musterd" "$B/clients/muster" drill run "$S/drills/mall-knife-attack.conf" \
	--virtual || rc=$?
# 3: the drill ran and an expectation was missed, which the report above shows.
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]
