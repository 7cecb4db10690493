"""Garbage from an authenticated peer gets an error reply or a disconnect, never a crash, and
the daemon keeps serving everyone else."""
import os
import random

import zmq

from harness import DaemonTest, main, pb, submit


class BadInput(DaemonTest):
    def expect_error(self, r, code, field=None):
        rep = r.recv(timeout=5.0)
        self.assertIsNotNone(rep, "no reply:\n" + self.d.log_text()[-2000:])
        self.assertEqual(rep.WhichOneof("body"), "error")
        self.assertEqual(rep.error.code, code, rep.error.message)
        self.assertTrue(rep.error.message)
        if field is not None:
            self.assertEqual(rep.error.field, field)
        return rep

    def test_random_bytes(self):
        op = self.operator()
        rng = random.Random(2)
        for n in (1, 7, 100, 5000):
            op.send(bytes(rng.getrandbits(8) for _ in range(n)))
            rep = op.recv(timeout=5.0)
            # Random bytes may happen to parse as an envelope of another version or with no
            # body; every outcome must be an error reply.
            self.assertIsNotNone(rep)
            self.assertEqual(rep.WhichOneof("body"), "error")
        self.assert_serving()

    def test_empty_frame(self):
        op = self.operator()
        op.send(b"")
        self.expect_error(op, pb.BAD_REQUEST)
        self.assert_serving()

    def test_truncated_protobuf(self):
        op = self.operator()
        e = op.envelope(submit_incident=submit(self.a_place(), description="x" * 200))
        data = e.SerializeToString()
        op.send(data[: len(data) - 50])
        self.expect_error(op, pb.BAD_REQUEST)
        self.assert_serving()

    def test_oversized_frame_disconnects_only_that_peer(self):
        op = self.operator()
        op.send(b"\x08\x01" + os.urandom(200 * 1024))
        self.assertIsNone(op.recv(timeout=2.0))
        self.assert_serving()

    def test_wrong_protocol_version(self):
        op = self.operator()
        e = op.envelope(version=2, list_incidents=pb.ListIncidents())
        op.send(e)
        self.expect_error(op, pb.UNSUPPORTED_VERSION)
        self.assert_serving()

    def test_no_body(self):
        op = self.operator()
        op.send(op.envelope())
        self.expect_error(op, pb.BAD_REQUEST)

    def test_missing_and_bad_fields(self):
        op = self.operator()
        cases = [
            (pb.SubmitIncident(location=pb.Location(place=self.a_place())), pb.INVALID_ARGUMENT,
             "type"),
            (pb.SubmitIncident(type="fire.ebike"), pb.BAD_REQUEST, "location"),
            (submit("no-such-place"), pb.INVALID_ARGUMENT, "location.place"),
            (pb.SubmitIncident(type="fire.ebike", location=pb.Location(
                coords=pb.Coordinates(lat=51.5, lon=-0.12))), pb.INVALID_ARGUMENT,
             "location.coords"),
            (pb.SubmitIncident(type="fire.ebike", location=pb.Location(
                coords=pb.Coordinates(lat=95, lon=0))), pb.INVALID_ARGUMENT, "location.coords"),
            (submit(self.a_place(), casualties=-1), pb.INVALID_ARGUMENT, "casualties"),
            (submit(self.a_place(), type_="Fire Ebike!"), pb.INVALID_ARGUMENT, "type"),
        ]
        for body, code, field in cases:
            op.send(op.envelope(submit_incident=body))
            self.expect_error(op, code, field)
        op.send(op.envelope(get_incident=pb.GetIncident(id=999999)))
        self.expect_error(op, pb.NOT_FOUND, "id")
        op.send(op.envelope(close_incident=pb.CloseIncident(id=1)))
        self.expect_error(op, pb.BAD_REQUEST, "reason")
        op.send(op.envelope(update_incident=pb.UpdateIncident(id=1)))
        self.expect_error(op, pb.BAD_REQUEST)
        # nothing of the refused requests was recorded
        rep = op.call(list_incidents=pb.ListIncidents(include_closed=True))
        self.assertEqual(len(rep.incident_list.incidents), 0)
        self.assert_serving()

    def test_message_for_the_wrong_socket(self):
        op = self.operator()
        op.send(op.envelope(register=pb.Register()))
        self.expect_error(op, pb.BAD_REQUEST)
        ag = self.raw("agents", key=self.d.key("agent-fire.key"))
        ag.send(ag.envelope(list_incidents=pb.ListIncidents()))
        self.expect_error(ag, pb.BAD_REQUEST)

    def test_agent_reports_before_orders_exist(self):
        ag = self.raw("agents", key=self.d.key("agent-fire.key"))
        ag.send(ag.envelope(heartbeat=pb.Heartbeat()))
        self.expect_error(ag, pb.NOT_FOUND, "register")
        self.assertEqual(ag.call(register=pb.Register()).WhichOneof("body"), "registered")
        ag.send(ag.envelope(receipt=pb.Receipt(order_id=12345)))
        self.expect_error(ag, pb.NOT_FOUND, "order_id")
        bad = pb.Heartbeat(units=[pb.UnitState(unit_id="no-such-unit")])
        ag.send(ag.envelope(heartbeat=bad))
        self.expect_error(ag, pb.NOT_FOUND)

    def test_extra_frames_dropped(self):
        op = self.operator()
        op.s.send_multipart([op.envelope(list_incidents=pb.ListIncidents()).SerializeToString(),
                             b"extra"])
        self.assertIsNone(op.recv(timeout=1.0))
        self.assert_serving()

    def test_unknown_fields_tolerated(self):
        op = self.operator()
        e = op.envelope(list_incidents=pb.ListIncidents())
        # field 999, varint 1: a field a newer client might send
        data = e.SerializeToString() + b"\xb8\x3e\x01"
        op.send(data)
        rep = op.recv(timeout=5.0)
        self.assertEqual(rep.WhichOneof("body"), "incident_list")

    def test_flood_of_garbage_from_many_peers(self):
        rng = random.Random(7)
        peers = [self.operator() for _ in range(10)]
        for _ in range(30):
            for p in peers:
                p.send(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))))
        for p in peers:
            while p.recv(timeout=0.5) is not None:
                pass
        self.assert_serving()


if __name__ == "__main__":
    main()
