"""``dltk`` on the command line (also ``python -m dltk``).

dltk lessons DIR [--force]              copy the course into DIR; then: jupyter lab DIR
dltk assignment LESSON COURSE_DIR       release a lesson as an nbgrader source notebook
dltk link HUB_URL [--repo URL]          print the nbgitpuller link for a JupyterHub class
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import classroom

    ap = argparse.ArgumentParser(prog="dltk", description="dltk's course tools")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("lessons", help="copy the lessons into a folder")
    p.add_argument("dir")
    p.add_argument("--force", action="store_true", help="overwrite lessons already there")
    p = sub.add_parser("assignment", help="release a lesson as an nbgrader assignment")
    p.add_argument("lesson", help="lesson number (e.g. 02) or notebook path")
    p.add_argument("course_dir")
    p.add_argument("--name", default=None, help="assignment name (default: lessonNN)")
    p = sub.add_parser("link", help="the nbgitpuller link for a JupyterHub")
    p.add_argument("hub_url")
    p.add_argument("--repo", default="https://github.com/OWNER/dltk")
    p.add_argument("--branch", default="main")
    args = ap.parse_args(argv)

    if args.command == "lessons":
        copied = classroom.copy_lessons(args.dir, force=args.force)
        print(f"copied {len(copied)} files to {args.dir}; open them with: jupyter lab {args.dir}")
    elif args.command == "assignment":
        path = classroom.release_assignment(args.lesson, args.course_dir, args.name)
        print(f"wrote {path}; now, in {args.course_dir}: nbgrader generate_assignment {path.parent.name}")
    else:
        print(classroom.nbgitpuller_link(args.hub_url, args.repo, args.branch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
