"""A package outside Curate adds a filter, a stage, a model kind and an ingest source through entry points, with no edit here.

Each test writes a tiny installed package into tmp_path (its module plus a ``*.dist-info`` with
``METADATA`` and ``entry_points.txt``, what ``pip install`` leaves) and puts tmp_path on sys.path. The
filter is then usable by name from an annotate config, through the same per-batch path the Spark job
runs (``annotate_task.annotate_batches``, no JVM). A plugin that fails to import is one line naming the
entry point and the exception. README "Adding a filter (a plugin step)" points here; "Adding a source" is
run from the README itself: its example package is installed and `curate ingest lines` runs end to end.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from classifiers import loading
from curation import plugins, stages
from curation.filters import steps
from curation.filters.annotate_task import StepSpec, annotate_batches, load_builtin_steps
from curation.ingest import sources
from curation.schema import Document, from_batch, to_batch

FILTER = '''
from dataclasses import dataclass
from typing import ClassVar


@dataclass
class NoShouting:
    """Drop pages written mostly in capitals."""

    changes_text: ClassVar[bool] = False
    max_caps_ratio: float = 0.5

    def __call__(self, doc):
        letters = [c for c in doc.text if c.isalpha()]
        ratio = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
        doc.scores["caps_ratio"] = ratio
        return "shouting" if ratio > self.max_caps_ratio else None
'''


def install(root: Path, package: str, module_text: str, entry_points: str) -> None:
    """What ``pip install`` of a one-module package leaves in site-packages."""
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text(textwrap.dedent(module_text))
    info = root / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site-packages folder on sys.path; afterwards its modules, steps and stages are forgotten."""
    load_builtin_steps()  # the built-in and installed plugins are loaded before this site appears
    sources.kinds()
    before_steps, before_stages, before_modules = dict(steps._REGISTRY), dict(stages.REGISTRY), set(sys.modules)
    before_sources = dict(sources._KINDS)
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    yield root
    importlib.invalidate_caches()
    for name in set(sys.modules) - before_modules:
        if name.startswith(("curate_plugin_", "my_sources")):
            del sys.modules[name]
    steps._REGISTRY.clear()
    steps._REGISTRY.update(before_steps)
    stages.REGISTRY.clear()
    stages.REGISTRY.update(before_stages)
    loading._KINDS.pop("constant", None)
    sources._KINDS.clear()
    sources._KINDS.update(before_sources)
    plugins.reset()


def _reload_plugins(group: str) -> None:
    importlib.invalidate_caches()
    plugins.reset(group)


def test_a_plugin_filter_runs_by_name_from_an_annotate_config(site):
    install(site, "curate_plugin_demo", FILTER, """
        [curate.steps]
        no_shouting_v1 = curate_plugin_demo:NoShouting
    """)
    _reload_plugins(plugins.STEPS)
    # the annotate job's config, as YAML would give it: a built-in step, then the plugin's
    specs = (StepSpec("gopher_quality_v1", {"min_doc_words": 2, "min_stop_words": 0}),
             StepSpec("no_shouting_v1", {"max_caps_ratio": 0.6}))
    docs = [Document(id="calm", text="the quiet river runs past the old mill every single day"),
            Document(id="loud", text="BUY NOW THE BEST DEAL EVER ON EVERY SINGLE THING TODAY"),
            Document(id="short", text="HI")]
    out = [d for b in annotate_batches(iter([to_batch(docs)]), specs, ()) for d in from_batch(b)]
    reasons = {d.id: d.drop_reason for d in out}
    assert reasons == {"calm": None, "loud": "no_shouting_v1.shouting",
                       "short": "gopher_quality_v1.too_few_words"}
    assert out[0].scores["caps_ratio"] == 0.0
    # register gave the step its name; it says it does not rewrite text
    step = steps.create("no_shouting_v1")
    assert (step.name, step.changes_text) == ("no_shouting_v1", False)
    assert isinstance(step, steps.Step)


def test_a_plugin_that_fails_to_import_is_one_line_naming_it(site):
    install(site, "curate_plugin_broken", "import curate_no_such_dependency\n", """
        [curate.steps]
        broken_v1 = curate_plugin_broken:Broken
    """)
    _reload_plugins(plugins.STEPS)
    with pytest.raises(plugins.PluginError) as err:
        steps.create("gopher_quality_v1")  # any consult of the registry loads the plugins: not a silent skip
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("plugin curate.steps:broken_v1 = 'curate_plugin_broken:Broken' failed: ")
    assert "ModuleNotFoundError: No module named 'curate_no_such_dependency'" in message
    with pytest.raises(plugins.PluginError):  # reported again, not loaded half-way and forgotten
        steps.registered()


def test_every_registered_step_knows_its_name_and_whether_it_changes_text():
    load_builtin_steps()
    for name in steps.registered():
        factory = steps._REGISTRY[name]
        assert factory.name == name
        assert isinstance(factory.changes_text, bool), name
    # the classifiers' steps come through pyproject.toml's entry points, not a name in the core
    assert {"classifier_score_v1", "fasttext_classifier_v1", "transformer_classifier_v1"} <= set(steps.registered())
    assert [n for n in steps.registered() if steps._REGISTRY[n].changes_text] == ["c4_quality_v1", "pii_mask_v1"]


def test_a_plugin_stage_joins_the_registry(site):
    install(site, "curate_plugin_stage", """
        from curation import rundir, stages

        def register():
            stages.register(stages.Stage(
                "tag", "A stage from a plugin.", "curate_plugin_stage:Job", "curate_plugin_stage:Config",
                (rundir.ACCOUNTING, rundir.CONFIG), stages.OutcomeAccounting()), before="mix")
    """, """
        [curate.stages]
        tag = curate_plugin_stage:register
    """)
    _reload_plugins(plugins.STAGES)
    names = stages.names()
    assert names[-2:] == ("tag", "mix")


def test_a_plugin_model_kind_loads_and_scores(site, tmp_path):
    install(site, "curate_plugin_kind", """
        import numpy as np

        class Constant:
            def score(self, texts):
                return np.full(len(texts), 0.25)

        class Kind:
            def check(self, model_dir):
                pass

            def load(self, model_dir, device):
                return Constant()

        KIND = Kind()
    """, """
        [curate.model_kinds]
        constant = curate_plugin_kind:KIND
    """)
    _reload_plugins(plugins.MODEL_KINDS)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "meta.json").write_text(json.dumps({"kind": "constant"}))
    assert loading.check(model_dir) == "constant"
    assert list(loading.score(loading.load(model_dir), ["a", "b"])) == [0.25, 0.25]


def test_plugin_error_is_a_user_error_reported_in_one_line(capsys):
    from curation.errors import CurateError, report

    err = plugins.PluginError("plugin curate.steps:x_v1 = 'nowhere:X' failed: ModuleNotFoundError: No module named 'nowhere'")
    assert isinstance(err, CurateError)
    assert report("annotate", err) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["curate annotate: error: plugin curate.steps:x_v1 = 'nowhere:X' failed: "
                     "ModuleNotFoundError: No module named 'nowhere'"]


# ------------------------------------------------------------------ a source: curate ingest KIND
README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_block(first_line: str) -> str:
    """The fenced code block of README "Adding a source" that starts with ``first_line``."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### Adding a source")
    body = text.index(first_line, start)
    return text[body:text.index("```", body)]


def test_a_plugin_source_is_a_curate_ingest_kind_end_to_end(site, tmp_path, capsys):
    from curate import cli

    code = _readme_block("# my_sources/__init__.py")
    toml = _readme_block("# the plugin's pyproject.toml")
    assert '[project.entry-points."curate.sources"]' in toml
    entry = toml.split('[project.entry-points."curate.sources"]', 1)[1].strip()  # lines = "my_sources:SOURCE"
    install(site, "my_sources", code, "[curate.sources]\n" + entry.replace('"', "") + "\n")
    _reload_plugins(plugins.SOURCES)
    # Curate's own kinds come through the same entry-point group (its pyproject.toml)
    assert list(sources.kinds()) == ["code", "lines", "qa", "text"]
    assert isinstance(sources.kinds()["lines"], sources.IngestSource)

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"the first line\nok\n\xff\xfe not utf-8\n   \nthe last line\n")
    out = tmp_path / "out"
    assert cli.main(["ingest", "lines", str(notes), "--min-chars", "3", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"ingested 5 documents (2 kept) -> {out}"

    rows = pq.read_table(out / "part-lines.parquet").to_pylist()
    assert [(r["id"], r["text"], r["drop_reason"]) for r in rows] == [
        ("notes.txt:1", "the first line", None), ("notes.txt:2", "ok", "lines.short"),
        ("notes.txt:3", "", "error.not_utf8"), ("notes.txt:4", "", "lines.short"),
        ("notes.txt:5", "the last line", None)]
    assert rows[2]["error"].startswith("'utf-8' codec can't decode")
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc == {"records_read": 5, "kept": 2, "dropped": 2, "errored": 1,
                   "by_outcome": {"kept": 2, "lines.short": 2, "error.not_utf8": 1}}
    assert acc["kept"] + acc["dropped"] + acc["errored"] == acc["records_read"]

    # its own user error is the one-line format of every verb
    assert cli.main(["ingest", "lines", str(tmp_path / "missing.txt"), "--output", str(tmp_path / "o2")]) == 2
    assert capsys.readouterr().err == f"curate ingest: error: input not found: {tmp_path / 'missing.txt'}\n"


def test_a_source_plugin_that_fails_to_import_is_one_line_from_curate(site, capsys):
    from curate import cli

    install(site, "curate_plugin_badsource", "import curate_no_such_dependency\n", """
        [curate.sources]
        bad = curate_plugin_badsource:SOURCE
    """)
    _reload_plugins(plugins.SOURCES)
    assert cli.main(["ingest", "bad", "x", "--output", "y"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "curate ingest: error: plugin curate.sources:bad = 'curate_plugin_badsource:SOURCE' failed: "
        "ModuleNotFoundError"), err


def test_a_source_must_say_its_name_and_yield_documents(site, tmp_path):
    with pytest.raises(TypeError, match="needs help"):
        sources.register(type("NoHelp", (), {"name": "nohelp", "add_arguments": print, "documents": print})())
    with pytest.raises(ValueError, match="already registered"):
        sources.register(sources.SourceKind("code", "another code", lambda input, args: iter(())))
    strings = sources.register(sources.SourceKind("strings", "yields str", lambda input, args: iter(["not a doc"])))
    (tmp_path / "in.txt").write_text("x")
    args = argparse.Namespace(kind=strings.name, input=str(tmp_path / "in.txt"), output=str(tmp_path / "out"))
    with pytest.raises(sources.SourceError, match="yielded a str, not a curation.schema.Document"):
        sources.run(args)
