"""Intrusion (issue 6), beyond test_security.py and test_badinput.py: a recorded CURVE session
replayed byte for byte on a new connection achieves nothing; a flood of connections with
unknown keys, and of raw TCP garbage, admits no one and does not stop the daemon serving its
operator. Each prints its figures."""
import os
import re
import socket
import sqlite3
import time

import zmq

from harness import DaemonTest, Raw, free_ports, main, pb
from test_network import Proxy


class Recorder(Proxy):
    """The proxy, keeping every byte the client sent upstream."""

    def __init__(self, *a):
        self.sent = bytearray()
        super().__init__(*a)

    def pump(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if b.getpeername()[1] == self.up:
                    self.sent += data
                b.sendall(data)
        except OSError:
            pass


class Intrusion(DaemonTest):
    def count_incidents(self):
        r = self.operator().call(list_incidents=pb.ListIncidents(include_closed=True))
        return len(r.incident_list.incidents)

    def test_replayed_session_achieves_nothing(self):
        port = free_ports(1)[0]
        rec = Recorder(port, int(self.d.endpoints["control"].rsplit(":", 1)[1]))
        try:
            via = dict(self.d.endpoints)
            self.d.endpoints = dict(via, control=f"tcp://127.0.0.1:{port}")
            op = Raw(self.d, "control", key=self.d.key("operator.key"))
            self.raws.append(op)
            self.d.endpoints = via
            r = op.call(submit_incident=pb.SubmitIncident(
                type="fire.ebike", location=pb.Location(place="s01-c01")))
            self.assertEqual(r.WhichOneof("body"), "incident_reply")
            time.sleep(0.2)
            captured = bytes(rec.sent)
        finally:
            rec.close()
        self.assertGreater(len(captured), 100)
        # The whole client side of that session, again, on fresh connections, three times.
        host, port_s = self.d.endpoints["control"].rsplit(":", 1)
        for _ in range(3):
            s = socket.create_connection((host.replace("tcp://", ""), int(port_s)))
            try:
                s.sendall(captured)
                s.settimeout(1.0)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
            finally:
                s.close()
        time.sleep(0.3)
        n = self.count_incidents()
        print(f"\nreplay: {len(captured)} bytes of a recorded session sent 3 times: "
              f"{n - 1} incidents made by it", flush=True)
        self.assertEqual(n, 1, "a replayed session made an incident")
        self.assert_serving()

    def test_connection_flood_admits_no_one(self):
        ctx = zmq.Context.instance()
        host = self.d.endpoints["control"].replace("tcp://", "").rsplit(":", 1)
        socks, raws = [], []
        t0 = time.monotonic()
        try:
            for _ in range(150):  # well-formed CURVE clients with keys nobody enrolled
                pub, sec = zmq.curve_keypair()
                s = ctx.socket(zmq.DEALER)
                s.curve_publickey, s.curve_secretkey = pub, sec
                s.curve_serverkey = self.d.server_public
                s.linger = 0
                s.connect(self.d.endpoints["control"])
                s.send(b"let me in", zmq.NOBLOCK)
                socks.append(s)
            for _ in range(150):  # raw TCP: garbage, then nothing
                r = socket.create_connection((host[0], int(host[1])))
                r.sendall(os.urandom(512))
                raws.append(r)
            # The operator is answered throughout.
            worst = 0.0
            for _ in range(10):
                t = time.monotonic()
                self.assert_serving()
                worst = max(worst, time.monotonic() - t)
            answered = sum(1 for s in socks if s.poll(10))
        finally:
            for s in socks:
                s.close()
            for r in raws:
                r.close()
        took = time.monotonic() - t0
        who = set(re.findall(r"auth: (\S+) admitted on control", self.d.log_text()))
        admitted = len(re.findall(r"auth: \S+ admitted on control", self.d.log_text()))
        print(f"\nflood: 150 unknown CURVE keys and 150 raw TCP connections in {took:.1f} s: "
              f"{answered} answered, {admitted} admitted (the operator's own sessions); "
              f"slowest operator answer {worst * 1000:.0f} ms", flush=True)
        self.assertEqual(answered, 0, "an unknown key got an answer")
        self.assertEqual(len(who), 1, f"admitted: {who}")  # the operator, nobody else
        self.assertTrue(next(iter(who)).startswith("operator:"))
        self.assertLess(worst, 5.0)
        self.assertTrue(self.d.alive())


if __name__ == "__main__":
    main()
