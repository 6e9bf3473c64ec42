"""``curate config show STAGE``: a stage's defaults, as YAML, read from its config dataclass.

The dataclass is where a default is defined; ``spark_jobs/configs/STAGE.yaml`` documents each key and
must load to the same values (``tests/test_config_show.py`` compares it with this command's output for
every registered stage), so the two cannot drift.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from curation import config as configlib
from curation import stages
from curation.errors import CurateError


class UnknownStageError(CurateError):
    """``config show`` for a name that is not a registered stage."""


def defaults(stage: str) -> object:
    """The stage's config dataclass with every value its default."""
    if stage not in stages.REGISTRY:
        raise UnknownStageError(f"unknown stage {stage!r} (stages: {', '.join(stages.names())})")
    return stages.get(stage).config_class()()


def show(stage: str) -> str:
    """The stage's defaults as YAML (what ``--config`` takes; keys in the dataclass's order)."""
    return configlib.dump(defaults(stage))


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="config_command", required=True)
    show_p = sub.add_parser("show", help="print a stage's default config as YAML (what --config takes)")
    show_p.add_argument("stage", metavar="STAGE", help=f"one of: {', '.join(stages.names())}")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    (out or sys.stdout).write(show(args.stage))
    return 0
