"""A run's checks as a table (``curate run --check``): each row one thing that can be known without
running anything, ``ok``, ``warn``, ``fail`` or ``skip`` with one line that says why.

A check is a function returning its detail line (or raising): :meth:`Report.run` records it, turning
an exception into a ``fail`` row with the exception's own message, so every check runs and the table
shows every problem at once rather than the first. The composition root (``curate.pipeline``) decides
which checks a run has; the pure ones that need only the core live here.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from curation import fsutil, verb_inputs

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


class CheckWarning(Exception):
    """Raised by a check whose finding is worth a ``warn`` row but does not stop the run."""


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""


@dataclass
class Report:
    rows: list[Check] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str = "") -> Check:
        self.rows.append(Check(name, status, detail))
        return self.rows[-1]

    def run(self, name: str, check: Callable[[], str | None]) -> bool:
        """Run one check; True unless it failed. Any exception is its failure, named by its message."""
        try:
            detail = check()
        except CheckWarning as exc:
            self.add(name, WARN, str(exc))
            return True
        except Exception as exc:  # a check reports; it never stops the others
            self.add(name, FAIL, _message(exc))
            return False
        self.add(name, OK, detail or "")
        return True

    def skip(self, name: str, why: str) -> None:
        self.add(name, SKIP, why)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.rows if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failures

    def first_failure(self) -> str:
        """``name: detail`` of the first failed row (a run's one-line error)."""
        c = self.failures[0]
        return f"{c.name}: {c.detail}"

    def render(self) -> str:
        width = max([len(c.name) for c in self.rows] + [5])
        lines = [f"  {'check':<{width}}  {'status':<6}  detail"]
        lines += [f"  {c.name:<{width}}  {c.status:<6}  {c.detail}" for c in self.rows]
        n_fail, n_warn = len(self.failures), sum(c.status == WARN for c in self.rows)
        verdict = "ok" if not n_fail else f"{n_fail} failed"
        lines.append(f"  {len(self.rows)} checks: {verdict}" + (f", {n_warn} warning(s)" if n_warn else ""))
        return "\n".join(lines)


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:  # KeyError's str() is the repr of its argument
        text = str(exc.args[0])
    return text.splitlines()[0]


# ------------------------------------------------------------------------------------- core checks
def local_path_exists(path: str, what: str) -> str:
    """``path`` exists (a URI is not looked up: Spark resolves it on the cluster)."""
    if fsutil.is_uri(path):
        return f"{path} (remote: not looked up)"
    problem = verb_inputs.missing(path, what)
    if problem:
        raise FileNotFoundError(problem)
    return path


def benchmark_files(benchmarks: str) -> str:
    """Every benchmark the list names matches at least one file (their lines are read by the job's
    own config check, once)."""
    from curation import decontam

    if not benchmarks:
        raise ValueError("no benchmarks: set benchmarks: BENCH.yaml")
    specs = decontam.load_benchmark_specs(benchmarks)
    n_files = 0
    for spec in specs:
        files = [p for p in glob.glob(spec.path, recursive=True) if os.path.isfile(p)]
        if not files:
            raise FileNotFoundError(f"benchmark path {spec.path!r} matches no file (benchmark {spec.name or '(one per file)'!r} "
                                    f"in {benchmarks})")
        n_files += len(files)
    return f"{benchmarks}: {len(specs)} benchmark entr{'y' if len(specs) == 1 else 'ies'}, {n_files} file(s)"


def tokenizer(path: str) -> str:
    from curation.mixture.tokens import load_tokenizer

    if not path:
        raise ValueError("tokenizer is not set (a local tokenizer.json, *.tiktoken file, or bundled)")
    tok = load_tokenizer(path)
    return f"{path}: vocabulary {tok.vocab_size:,}"
