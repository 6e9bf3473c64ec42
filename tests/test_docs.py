"""The docs reference only what exists: every relative link in README.md, docs/*.md and notebooks/README.md
names a file in the repository, and every command in their ``bash`` code blocks exists on a set-up machine (a
Makefile target for ``make X``, a ``curate`` sub-command for ``curate X``, a script or module of the repository
for ``python X``, ``jupyter-X`` for ``jupyter X``, else an executable on PATH or in .venv/bin, or a script path
in the repository)."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "notebooks" / "README.md"]
#: Top-level folders of the repository: a backticked path starting with one of them must exist.
REPO_DIRS = sorted(p.name for p in REPO.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                   and p.name not in {"build", "dist", "runs", "out", "spark-warehouse", "metastore_db"})

# --------------------------------------------------------------------------- links

_LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_RE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
_CODE_PATH_RE = re.compile(r"`([A-Za-z0-9_./-]+)`")


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.MULTILINE | re.DOTALL)


def relative_links(md: Path) -> list[str]:
    text = _without_code_blocks(md.read_text(encoding="utf-8"))
    targets = _LINK_RE.findall(text) + _REF_RE.findall(text)
    return [t for t in targets if not re.match(r"^([a-z][a-z0-9+.-]*:|#|//)", t, re.IGNORECASE)]


def backticked_repo_paths(md: Path) -> list[str]:
    """`curation/x.py`-style mentions (a path under a top-level folder of the repo) and bare `*.md` names."""
    found = []
    for t in _CODE_PATH_RE.findall(_without_code_blocks(md.read_text(encoding="utf-8"))):
        if "*" in t or "..." in t:
            continue
        if "/" in t and t.split("/")[0] in REPO_DIRS:
            # `spark_jobs/configs/STAGE.yaml`: an all-caps part is a placeholder, not a file name
            if not any(re.fullmatch(r"[A-Z][A-Z_]*", part.split(".")[0]) for part in t.split("/")):
                found.append(t)
        elif t.endswith(".md") and "/" not in t:
            found.append(t)
    return found


def _exists(md: Path, target: str) -> bool:
    path = target.split("#")[0].split("?")[0]
    return not path or (md.parent / path).exists() or (REPO / path).exists()


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_point_to_files_in_the_repo(md):
    links = relative_links(md)
    missing = [t for t in links if not _exists(md, t)]
    assert missing == [], f"{md.name}: links to files that are not in the repository: {missing}"
    outside = [t for t in links if _exists(md, t) and REPO not in (md.parent / t.split("#")[0]).resolve().parents
               and (md.parent / t.split("#")[0]).resolve() != REPO]
    assert outside == [], f"{md.name}: links that leave the repository: {outside}"


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_backticked_repo_files_exist(md):
    missing = [t for t in backticked_repo_paths(md) if not _exists(md, t)]
    assert missing == [], f"{md.name}: names files that are not in the repository: {missing}"


def test_link_finder_finds_links():
    """The checks above see real links (a finder that found none would pass them vacuously)."""
    readme = relative_links(REPO / "README.md")
    assert "docs/cluster.md" in readme and any(t.startswith("docs/screenshots/") for t in readme)
    assert "bench/scaling.py" in backticked_repo_paths(REPO / "docs/cluster.md")


# --------------------------------------------------------------------------- commands

_FENCE_RE = re.compile(r"^\s*```(bash|sh|shell|console)\s*\n(.*?)^\s*```", re.MULTILINE | re.DOTALL)
_ASSIGN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
#: Words that run the rest of the line (their own existence is not the question).
_PREFIXES = {"sudo", "time", "nohup", "exec", "env", "command"}
#: Shell builtins and keywords: nothing to look up.
_BUILTINS = {"cd", "export", "source", ".", "set", "unset", "echo", "exit", "test", "[", "true", "false", "read",
             "wait", "kill", "trap", "if", "then", "else", "fi", "for", "do", "done", "while", "pushd", "popd"}


def commands(md: Path) -> list[tuple[int, list[str]]]:
    """(line, words) of every simple command in the doc's shell code blocks: continuation lines joined,
    comments and ``$ `` prompts dropped, split at ``&&``, ``||``, ``;`` and ``|``."""
    text = md.read_text(encoding="utf-8")
    found = []
    for block in _FENCE_RE.finditer(text):
        first_line = text.count("\n", 0, block.start(2)) + 1
        logical: list[tuple[int, str]] = []
        pending = ""
        for n, line in enumerate(block.group(2).splitlines(), first_line):
            pending = pending + " " + line.strip() if pending else line.strip()
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            if pending:
                logical.append((n, pending))
            pending = ""
        # A usage synopsis wrapped onto a line of its own options ("    [--config FILE] ...") continues it.
        for k in range(len(logical) - 1, 0, -1):
            if logical[k][1].startswith(("[-", "-")):
                logical[k - 1] = (logical[k - 1][0], f"{logical[k - 1][1]} {logical[k][1]}")
                del logical[k]
        for n, line in logical:
            if line.startswith("$ "):
                line = line[2:]
            # `[--extractor trafilatura|resiliparse]` is a synopsis' alternatives, not a pipe
            line = re.sub(r"\[[^\]]*\]", lambda m: m.group(0).replace("|", ","), line)
            lex = shlex.shlex(line, posix=True, punctuation_chars=";&|")
            lex.whitespace_split = True
            lex.commenters = "#"
            words = list(lex)
            cmd: list[str] = []
            for w in [*words, ";"]:
                if w in {";", "&&", "||", "|", "&"}:
                    if cmd:
                        found.append((n, cmd))
                    cmd = []
                else:
                    cmd.append(w)
    return found


def _command_word(words: list[str]) -> list[str]:
    while words and (_ASSIGN_RE.match(words[0]) or words[0] in _PREFIXES):
        words = words[1:]
    return words


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {t for line in re.findall(r"^([A-Za-z0-9_.%/ -]+):(?!=)", text, re.MULTILINE) for t in line.split()}


def _curate_problem(args: list[str]) -> str | None:
    """None when ``curate ARGS`` names existing sub-commands (nested ones too), else why not."""
    from curate.cli import build_parser

    parser = build_parser()
    for word in args:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word.startswith("-"):
            return None
        if word not in subs[0].choices:
            return f"curate has no sub-command {word!r} here (choices: {', '.join(subs[0].choices)})"
        parser = subs[0].choices[word]
    return None


def _python_problem(args: list[str]) -> str | None:
    """``python -m MODULE`` must import-resolve; ``python path.py`` must be a file of the repository."""
    if args[:1] == ["-m"] and len(args) > 1:
        return None if importlib.util.find_spec(args[1]) else f"no module {args[1]!r}"
    if args and args[0].endswith(".py"):
        return None if (REPO / args[0]).is_file() else f"no script {args[0]!r} in the repository"
    return None


def command_problem(words: list[str]) -> str | None:
    words = _command_word(words)
    if not words or words[0] in _BUILTINS:
        return None
    exe, args = words[0], words[1:]
    name = exe.rsplit("/", 1)[-1]
    if name == "make":
        targets = [a for a in args if not a.startswith("-") and "=" not in a]
        unknown = [t for t in targets if t not in make_targets()]
        return f"Makefile has no target {unknown}" if unknown else None
    if "/" in exe:  # a path: a script of the repository or .venv/bin/...
        if not (REPO / exe).exists():
            return f"{exe} is not in the repository (nor made by `make setup`)"
    elif not (shutil.which(exe) or (REPO / ".venv" / "bin" / exe).exists()):
        return f"{exe!r} is neither on PATH nor in .venv/bin"
    if name == "curate":
        return _curate_problem(args)
    if name == "jupyter" and args and not args[0].startswith("-"):  # `jupyter X` runs the executable jupyter-X
        return command_problem([f"jupyter-{args[0]}", *args[1:]])
    if re.fullmatch(r"python(3(\.\d+)?)?", name):
        return _python_problem(args)
    return None


#: Commands a doc runs somewhere else than on this set-up, by doc: the tool and where it lives.
ELSEWHERE = {"cluster.md": {"hdfs": "Hadoop's CLI, on the YARN cluster's gateway"}}


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_commands_in_shell_blocks_exist(md):
    found = commands(md)
    elsewhere = ELSEWHERE.get(md.name, {})
    problems = [f"{md.name}:{n}: {' '.join(w)}\n    -> {p}" for n, w in found
                if (_command_word(w) or [""])[0] not in elsewhere and (p := command_problem(w))]
    assert problems == [], "\n".join(problems)


def test_command_checker_tells_real_from_made_up(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("```bash\n$ FOO=1 make setup && .venv/bin/curate sql runs/demo 'SELECT 1'  # a comment\n"
                  "curate mix \\\n    --config m.yaml | head\n```\n")
    assert [w for _, w in commands(md)] == [["FOO=1", "make", "setup"], [".venv/bin/curate", "sql", "runs/demo", "SELECT 1"],
                                            ["curate", "mix", "--config", "m.yaml"], ["head"]]
    assert all(command_problem(w) is None for _, w in commands(md))
    assert "no target ['frobnicate']" in command_problem(["make", "frobnicate"])
    assert "no sub-command 'frobnicate'" in command_problem(["curate", "frobnicate", "x"])
    assert "neither on PATH nor in .venv/bin" in command_problem(["jupyter-frobnicate", "nbconvert"])
    assert "'jupyter-frobnicate' is neither" in command_problem(["jupyter", "frobnicate", "--execute", "x.ipynb"])
    assert "no script" in command_problem(["python", "bench/nope.py"])
    assert "no module" in command_problem([".venv/bin/python", "-m", "curation.nope"])
    assert "not in the repository" in command_problem(["cluster/nope.sh"])
    assert command_problem(["python", "-m", "classifiers.build_models"]) is None
    # the README's own blocks are read (a parser that found nothing would pass vacuously)
    readme = [w for _, w in commands(REPO / "README.md")]
    assert any(w[:2] == ["make", "demo"] for w in readme) and sum(w[0].endswith("curate") for w in readme) > 10
