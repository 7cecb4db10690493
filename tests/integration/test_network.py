"""Network faults (issue 6): every department's real muster-agent --simulate reaches the daemon
through a TCP proxy that the test cuts (every connection dropped, new ones refused) and
restores at random moments while incidents keep coming. Delivery is at least once with
de-duplication: every order is receipted (or handed on), no agent acts on an order twice,
and the orders sent while a link was down arrive after it is restored; the redelivery time
(restore to receipt) is measured, p50 and p99.

MUSTER_NET_CYCLES=N runs N cuts (docs/reliability.md gives the long run's figures)."""
import collections
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time

from harness import AGENT, DaemonTest, free_ports, main, pb, settle, verify_chain

DEPARTMENTS = ("police", "fire", "emergency", "housing", "transport", "traffic", "health",
               "citymgmt")
TYPES = ("fire.ebike", "traffic.collision", "flood", "accident.construction")
SIM_LINE = re.compile(r"^sim: #(\d+) (\S+) (accepted|declined|en_route|on_scene|cleared)$")


class Proxy:
    """A TCP relay from LISTEN to UPSTREAM that can be cut: cut() drops every connection and
    refuses new ones until restore()."""

    def __init__(self, listen_port, upstream_port):
        self.up = upstream_port
        self.lock = threading.Lock()
        self.pairs = []
        self.down = False
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", listen_port))
        self.srv.listen(64)
        self.closing = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closing:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                if self.down:
                    c.close()
                    continue
                try:
                    u = socket.create_connection(("127.0.0.1", self.up))
                except OSError:
                    c.close()
                    continue
                self.pairs.append((c, u))
            threading.Thread(target=self.pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c), daemon=True).start()

    @staticmethod
    def pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.down = True
            for c, u in self.pairs:
                for s in (c, u):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    except OSError:
                        pass
            self.pairs = []

    def restore(self):
        with self.lock:
            self.down = False

    def close(self):
        self.closing = True
        self.cut()
        self.srv.close()


class NetworkFaults(DaemonTest):
    def test_links_cut_and_restored_during_delivery(self):
        cycles = int(os.environ.get("MUSTER_NET_CYCLES", "5"))
        rng = random.Random(int(os.environ.get("MUSTER_NET_SEED", "11")))
        # The agents' copy of the configuration points them at the proxy.
        agent_conf = os.path.join(self.tmp, "agents-conf")
        shutil.copytree(self.d.dir, agent_conf)
        port = free_ports(1)[0]
        path = os.path.join(agent_conf, "musterd.conf")
        with open(path) as f:
            text = f.read()
        text = re.sub(r'^agents = .*$', f'agents = "tcp://127.0.0.1:{port}";', text,
                      flags=re.M)
        with open(path, "w") as f:
            f.write(text)
        proxy = Proxy(port, int(self.d.endpoints["agents"].rsplit(":", 1)[1]))
        agents, outs = [], []
        cuts = []  # (cut_ms, restore_ms)
        acked = 0
        try:
            for i, dept in enumerate(DEPARTMENTS):
                out = os.path.join(self.tmp, f"agent-{dept}.out")
                f = open(out, "wb")
                outs.append((out, f))
                agents.append(subprocess.Popen(
                    [AGENT, "-c", agent_conf, "-k", f"keys/agent-{dept}.key", "--simulate",
                     "--speed", "20", "--seed", str(200 + i)], stdout=f,
                    stderr=subprocess.STDOUT))
            time.sleep(1.0)
            op = self.operator()
            places = re.findall(r'id = "(s\d\d-c\d\d)"',
                                open(os.path.join(self.d.dir, "district.conf")).read())
            for _ in range(cycles):
                for _ in range(rng.randint(2, 5)):  # orders go out over a working link
                    r = op.call(submit_incident=pb.SubmitIncident(
                        type=rng.choice(TYPES), location=pb.Location(place=rng.choice(places))))
                    acked += r is not None and r.WhichOneof("body") == "incident_reply"
                    time.sleep(rng.uniform(0.0, 0.15))
                cut = int(time.time() * 1000)
                proxy.cut()
                for _ in range(rng.randint(2, 5)):  # and while it is down
                    r = op.call(submit_incident=pb.SubmitIncident(
                        type=rng.choice(TYPES), location=pb.Location(place=rng.choice(places))))
                    acked += r is not None and r.WhichOneof("body") == "incident_reply"
                time.sleep(rng.uniform(0.5, 2.0))
                proxy.restore()
                cuts.append((cut, int(time.time() * 1000)))
                time.sleep(rng.uniform(0.2, 1.0))
            settle(op, 40, "n")
        finally:
            for a in agents:
                a.terminate()
            for a in agents:
                a.wait(timeout=20)
            for _, f in outs:
                f.close()
            proxy.close()
        self.d.stop()
        chain = verify_chain(self.d.db())
        con = sqlite3.connect(self.d.db())
        orders = con.execute("SELECT id, sent_ms, received_ms, status, attempt FROM orders")\
            .fetchall()
        resent = con.execute("SELECT count(*) FROM timeline WHERE kind = 'order.sent' AND"
                             " json_extract(body, '$.attempt') > 1").fetchone()[0]
        first_sent = dict(con.execute("SELECT json_extract(body, '$.order'), min(wall_ms)"
                                      " FROM timeline WHERE kind = 'order.sent'"
                                      " GROUP BY 1"))
        con.close()
        unanswered = [o for o in orders if o[2] == 0 and o[3] in (1, 2)]
        # Orders first sent while a link was down: their receipt came after the restore.
        redelivery = []
        for oid, _, received, _, _ in orders:
            t = first_sent.get(oid)
            for c, r in cuts:
                if t is not None and c <= t < r and received:
                    self.assertGreaterEqual(received, r, f"order #{oid} receipted while cut")
                    redelivery.append(received - r)
        acted = collections.Counter()
        for out, _ in outs:
            with open(out, errors="replace") as f:
                for line in f:
                    m = SIM_LINE.match(line.strip())
                    if m:
                        acted[(m.group(1), m.group(3))] += 1
        twice = {k: v for k, v in acted.items() if v > 1}
        redelivery.sort()

        def pct(p):
            return redelivery[min(len(redelivery) - 1, (p * len(redelivery) + 99) // 100 - 1)]

        figures = (f"redelivery after restore p50 {pct(50)} ms, p99 {pct(99)} ms"
                   if redelivery else "no order was sent while a link was down")
        print(f"\nnetwork faults: {cycles} cuts; {acked} incidents acknowledged; "
              f"{len(orders)} orders ({resent} re-sent by the back-off timer); {len(redelivery)} orders sent while "
              f"cut, {figures}; {sum(acted.values())} agent actions, {len(twice)} twice; "
              f"{len(unanswered)} unanswered; chain of {chain} events intact", flush=True)
        self.assertEqual(twice, {}, "an agent acted on an order twice")
        self.assertEqual(unanswered, [], "orders never receipted nor handed on")
        self.assertTrue(redelivery, "no order went out while a link was cut: nothing tested")


if __name__ == "__main__":
    main()
