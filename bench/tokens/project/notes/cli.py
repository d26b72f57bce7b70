"""The command line: add, list, search, remove."""

import argparse

from . import store


def parser():
    p = argparse.ArgumentParser(prog="notes", description="A tiny notebook.")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("add", help="add a note")
    a.add_argument("text")
    a.add_argument("--tag", action="append", default=[])
    ls = sub.add_parser("list", help="list notes")
    ls.add_argument("--tag")
    s = sub.add_parser("search", help="search notes")
    s.add_argument("word")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "add":
        print(store.add(args.text, args.tag))
    elif args.command == "list":
        for n in store.load():
            if args.tag is None or args.tag in n["tags"]:
                print(f'{n["id"]:>3}  {n["text"]}  {" ".join("#" + t for t in n["tags"])}')
    elif args.command == "search":
        for n in store.search(args.word):
            print(f'{n["id"]:>3}  {n["text"]}')
    return 0
