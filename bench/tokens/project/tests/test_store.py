import os
import tempfile
import unittest

from notes import store


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        os.environ["NOTES_FILE"] = os.path.join(self.dir.name, "n.json")

    def tearDown(self):
        self.dir.cleanup()

    def test_add_then_load(self):
        store.add("Buy milk", ["home"])
        self.assertEqual(store.load()[0]["text"], "Buy milk")

    def test_ids_grow(self):
        self.assertEqual(store.add("a"), 1)
        self.assertEqual(store.add("b"), 2)

    def test_search_ignores_case(self):
        store.add("Buy Milk")
        self.assertEqual(len(store.search("milk")), 1)


if __name__ == "__main__":
    unittest.main()
