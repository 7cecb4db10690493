"""Bad configuration never runs: musterd -n and muster check name file:line and what is
wrong; musterd refuses to start half-configured; a bad SIGHUP keeps the old configuration."""
import os
import re

from harness import MUSTERD, DaemonTest, main, pb, run, submit


class Config(DaemonTest):
    start_daemon = False

    def path(self, name):
        return os.path.join(self.d.dir, name)

    def edit(self, name, fn):
        p = self.path(name)
        text = open(p).read()
        new = fn(text)
        self.assertNotEqual(new, text, f"edit of {name} changed nothing")
        open(p, "w").write(new)

    def line_of(self, name, needle):
        for i, line in enumerate(open(self.path(name)), 1):
            if needle in line:
                return i
        self.fail(f"{needle!r} not in {name}")

    def check_fails(self, file_line, message):
        """musterd -n and muster check both fail naming FILE_LINE and MESSAGE (a regex)."""
        p = run([MUSTERD, "-n", "-c", self.d.conf], check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn(file_line, p.stderr)
        self.assertRegex(p.stderr, message)
        q = self.d.muster("check", self.d.dir, check=False)
        self.assertEqual(q.returncode, 1)
        self.assertIn(file_line, q.stderr)
        # and the daemon itself will not start on it, nor create its database
        self.assertFalse(self.d.start(expect_ok=False))
        self.assertNotEqual(self.d.proc.wait(timeout=10), 0)
        self.d.proc = None
        self.assertFalse(os.path.exists(self.d.db()))

    def test_good_configuration_checks(self):
        p = run([MUSTERD, "-n", "-c", self.d.conf])
        self.assertIn("configuration OK", p.stdout)
        q = self.d.muster("check", self.d.dir)
        self.assertIn("configuration OK", q.stdout)

    def test_syntax_error(self):
        self.edit("district.conf", lambda t: t.replace("streets = (", "streets = ((", 1))
        self.check_fails("district.conf:", r"syntax error")

    def test_unknown_setting(self):
        self.edit("musterd.conf", lambda t: t + "\ncolour = 3;\n")
        n = len(open(self.path("musterd.conf")).read().rstrip("\n").split("\n"))
        self.check_fails(f"musterd.conf:{n}:", r"unknown setting 'colour'")

    def test_missing_file(self):
        self.edit("musterd.conf", lambda t: t.replace('roster = "roster.conf"',
                                                      'roster = "gone.conf"'))
        self.check_fails("gone.conf", r"cannot open")

    def test_duplicate_id(self):
        line = self.line_of("district.conf", 'id = "s02"')
        self.edit("district.conf",
                  lambda t: t.replace('id = "s02"; name = "Xiangfu Street"',
                                      'id = "s01"; name = "Xiangfu Street"'))
        self.check_fails(f"district.conf:{line}:", r"duplicate")

    def test_coordinates_out_of_range(self):
        line = self.line_of("district.conf", 'id = "s03"')
        self.edit("district.conf", lambda t: re.sub(
            r'(id = "s03";[^\n]*lat = )[-\d.]+', r"\g<1>95.0", t, count=1))
        self.check_fails(f"district.conf:{line}:", r"lat")

    def test_coordinates_outside_district(self):
        line = self.line_of("district.conf", 'id = "s04"')
        self.edit("district.conf", lambda t: re.sub(
            r'(id = "s04";[^\n]*lat = )[-\d.]+', r"\g<1>31.5", t, count=1))
        self.check_fails(f"district.conf:{line}:", r"outside")

    def test_unknown_place_reference(self):
        line = self.line_of("roster.conf", 'station = "s01-c01"')
        self.edit("roster.conf", lambda t: t.replace('station = "s01-c01"',
                                                     'station = "atlantis"', 1))
        self.check_fails(f"roster.conf:{line}:", r"atlantis")

    def test_bad_shift(self):
        line = self.line_of("roster.conf", 'station = "s01-c01";')
        self.edit("roster.conf", lambda t: t.replace('station = "s01-c01";',
                                                     'station = "s01-c01"; shift = [6, 6];', 1))
        self.check_fails(f"roster.conf:{line}:", r"'shift' \[6, 6\] is empty")

    def test_bad_reload_keeps_running_configuration(self):
        self.d.start()
        good = open(self.path("district.conf")).read()
        self.edit("district.conf", lambda t: t.replace("streets = (", "streets = ((", 1))
        self.d.hup()
        self.d.wait_log(r"reload refused, the running configuration is kept")
        self.d.wait_log(r"district\.conf:\d+: ")
        self.assertTrue(self.d.alive())
        self.assert_serving()
        op = self.operator()
        r = op.call(submit_incident=submit("s01-c01"))
        self.assertEqual(r.WhichOneof("body"), "incident_reply")
        # a good reload does take effect: a new key place becomes usable
        open(self.path("district.conf"), "w").write(good.replace(
            "key_places = (",
            'key_places = (\n\t{ id = "kp-test-pier"; name = "Test Pier"; kind = "dock";'
            ' community = "s01-c01"; lat = 30.33; lon = 120.15; post24h = false; },', 1))
        r = op.call(submit_incident=submit("kp-test-pier"))
        self.assertEqual(r.error.code, pb.INVALID_ARGUMENT)
        self.d.hup()
        self.d.wait_log(r"configuration reloaded")
        r = op.call(submit_incident=submit("kp-test-pier"))
        self.assertEqual(r.WhichOneof("body"), "incident_reply", r)
        self.assertEqual(r.incident_reply.incident.location.key_place, "kp-test-pier")

    def test_second_daemon_on_same_database_refused(self):
        self.d.start()
        other = os.path.join(self.tmp, "other.conf")
        text = open(self.d.conf).read()
        from harness import free_ports
        for name, port in zip(("control", "agents", "feed"), free_ports(3)):
            text = re.sub(rf'^{name} = "[^"]*";', f'{name} = "tcp://127.0.0.1:{port}";', text,
                          flags=re.M)
        text = text.replace('database = "muster.db"', f'database = "{self.d.db()}"')
        for f in ("key_file", "clients", "district", "roster", "plans"):
            text = re.sub(rf'^{f} = "([^"]*)";', lambda m: f'{f} = "{self.d.dir}/{m.group(1)}";',
                          text, flags=re.M)
        open(other, "w").write(text)
        p = run([MUSTERD, "-d", "-c", other], check=False, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stderr, r"locked")
        self.assert_serving()


if __name__ == "__main__":
    main()
