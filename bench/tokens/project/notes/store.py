"""Notes on disk: a JSON list of {id, text, tags}."""

import json
import os


def path():
    return os.environ.get("NOTES_FILE", "notes.json")


def load():
    try:
        with open(path(), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def save(notes):
    tmp = path() + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(notes, f, indent=2)
    os.replace(tmp, path())


def add(text, tags=()):
    notes = load()
    next_id = max((n["id"] for n in notes), default=0) + 1
    notes.append({"id": next_id, "text": text, "tags": list(tags)})
    save(notes)
    return next_id


def search(word):
    return [n for n in load() if word in n["text"] or word in n["tags"]]


def remove(note_id):
    notes = load()
    kept = [n for n in notes if n["id"] != note_id]
    save(kept)
    return len(kept) != len(notes)
