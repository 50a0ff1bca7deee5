#!/usr/bin/env python3
"""script/check-layers' own tests: it fails, naming file:line and the
crossing, on the bad includes of the fixture tree tests/layers/bad/ (an
upward include, another folder's _int.h, a test of another layer reading
one), on a README whose layer list differs from the table, and on a
folder missing from the table; and passes once they are gone."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "..", "..", "script", "check-layers")
BAD = os.path.join(HERE, "bad")


def run(root, *args):
    p = subprocess.run([sys.executable, CHECK, "--root", root, *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def drop_line(path, text):
    with open(path) as f:
        lines = [l for l in f if text not in l]
    with open(path, "w") as f:
        f.writelines(lines)


class CheckLayers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.root = os.path.join(self.tmp, "tree")
        shutil.copytree(BAD, self.root)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def fix(self):
        """Take the three bad includes out."""
        drop_line(os.path.join(self.root, "server/low/low.c"), "high/")
        drop_line(os.path.join(self.root, "server/high/high.c"), "_int.h")
        drop_line(os.path.join(self.root, "tests/unit/high/test_high.c"),
                  "_int.h")

    def test_upward_include_fails(self):
        rc, out = run(self.root)
        self.assertEqual(rc, 1, out)
        self.assertIn('server/low/low.c:4: #include "high/high.h": layer '
                      'low may not include high (it may include nothing)',
                      out)

    def test_private_header_of_another_folder_fails(self):
        rc, out = run(self.root)
        self.assertEqual(rc, 1, out)
        self.assertIn('server/high/high.c:2: #include "low/low_int.h": '
                      'low_int.h is private to server/low/', out)

    def test_test_of_another_layer_fails(self):
        rc, out = run(self.root)
        self.assertEqual(rc, 1, out)
        self.assertIn('tests/unit/high/test_high.c:1: #include '
                      '"low/low_int.h": private to server/low/', out)
        self.assertNotIn("tests/unit/low/test_low.c", out)
        self.assertIn("3 problem(s)", out)

    def test_clean_tree_passes(self):
        self.fix()
        rc, out = run(self.root)
        self.assertEqual(rc, 0, out)
        self.assertIn("2 layers, every include within", out)

    def test_readme_out_of_date_fails_until_written(self):
        self.fix()
        drop_line(os.path.join(self.root, "server/layers.txt"), "high |")
        shutil.rmtree(os.path.join(self.root, "server/high"))
        rc, out = run(self.root)
        self.assertEqual(rc, 1, out)
        self.assertIn("README.md: the layer list differs", out)
        rc, out = run(self.root, "--write")
        self.assertEqual(rc, 0, out)
        rc, out = run(self.root)
        self.assertEqual(rc, 0, out)

    def test_folder_missing_from_table_fails(self):
        self.fix()
        os.mkdir(os.path.join(self.root, "server/side"))
        with open(os.path.join(self.root, "server/side/side.c"), "w") as f:
            f.write("int side;\n")
        rc, out = run(self.root)
        self.assertEqual(rc, 1, out)
        self.assertIn("server/side/: not in server/layers.txt", out)


if __name__ == "__main__":
    unittest.main()
