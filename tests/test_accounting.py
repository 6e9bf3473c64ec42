"""The typed ``_accounting.json`` (curation.rundir.RecordAccounting), no JVM: the files the jobs wrote
when they built the JSON by hand read back and write out unchanged, and counts that do not add up
raise instead of reaching a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation import rundir
from curation.errors import JobError
from curation.rundir import AccountingError, RecordAccounting

#: ``_accounting.json`` of each stage of a demo run, written by the jobs' hand-built dicts (before
#: RecordAccounting); only extract's per_file path was shortened.
OLD = Path(__file__).parent / "data" / "accounting"
STAGES = ("extract", "annotate", "dedup", "decontaminate")


def _old(stage: str) -> tuple[str, dict]:
    text = (OLD / f"{stage}.json").read_text()
    return text, json.loads(text)


@pytest.mark.parametrize("stage", STAGES)
def test_a_file_written_by_the_old_code_round_trips(stage, tmp_path):
    text, raw = _old(stage)
    acc = RecordAccounting.from_dict(raw)
    assert acc.records_read == raw["records_read"]
    assert acc.to_dict() == raw
    rundir.write_accounting(tmp_path, acc)
    assert rundir.read_accounting(tmp_path) == raw
    assert RecordAccounting.from_dict(rundir.read_accounting(tmp_path)) == acc
    if stage != "dedup":  # dedup wrote `candidates` before its outcomes; it now follows them with its other figures
        assert (tmp_path / rundir.ACCOUNTING).read_text() == text  # the same bytes, key order included


def test_the_jobs_builders_give_the_old_files():
    _, ann = _old("annotate")
    assert RecordAccounting.of_outcomes(ann["by_outcome"], seconds=ann["seconds"]).to_json() == json.dumps(ann, indent=2)
    _, ded = _old("dedup")
    built = RecordAccounting.of_outcomes(ded["by_outcome"], candidates=ded["candidates"], clusters=ded["clusters"],
                                         minhash_label_rounds=ded["minhash_label_rounds"]).with_extra(seconds=ded["seconds"])
    assert built.to_dict() == ded
    _, ext = _old("extract")
    built = RecordAccounting.of_outcomes(ext["by_outcome"], records_read=ext["records_read"], files=ext["files"],
                                         rows_written=ext["rows_written"], per_file=ext["per_file"])
    assert built.with_extra(seconds=ext["seconds"]).to_json() == json.dumps(ext, indent=2)
    _, dec = _old("decontaminate")
    built = RecordAccounting(dec["records_read"], records_written=dec["records_written"], by_status=dec["by_status"],
                             extra={"seconds": dec["seconds"]})
    assert built.to_json() == json.dumps(dec, indent=2)


def test_counts_that_do_not_add_up_raise():
    with pytest.raises(AccountingError, match=r"kept \+ dropped \+ errored vs records read: 28 != 29"):
        RecordAccounting(29, {"kept": 17, "x.y": 12}, kept=17, dropped=11, errored=0)
    with pytest.raises(AccountingError, match="outcomes summed vs records read: 3 != 4"):
        RecordAccounting.of_outcomes({"kept": 2, "x.y": 1}, records_read=4)  # a record read but never counted
    with pytest.raises(AccountingError, match="records written vs read: 4 != 5"):
        RecordAccounting(5, records_written=4, by_status={"clean": 5})
    with pytest.raises(AccountingError, match="statuses summed vs records read: 4 != 5"):
        RecordAccounting(5, records_written=5, by_status={"clean": 3, "partial": 1})
    with pytest.raises(AccountingError, match="go together"):
        RecordAccounting(3, kept=3)
    with pytest.raises(AccountingError, match="named like counts: kept"):
        RecordAccounting.of_outcomes({"kept": 1}, kept=2)  # a figure may not shadow a count
    _, raw = _old("extract")
    with pytest.raises(AccountingError, match="kept \\+ dropped"):
        RecordAccounting.from_dict({**raw, "kept": raw["kept"] - 1})  # a tampered file is no accounting either
    assert issubclass(AccountingError, JobError)  # a job stops with one line, exit 2


def test_outcomes_decide_kept_dropped_and_errored():
    acc = RecordAccounting.of_outcomes({"x.y": 2, "kept": 3, "error.http": 1, "a.b": 2})
    assert (acc.records_read, acc.kept, acc.dropped, acc.errored) == (8, 3, 4, 1)
    assert list(acc.by_outcome) == ["kept", "a.b", "x.y", "error.http"]  # by count, then name
    assert RecordAccounting.of_outcomes({}).to_dict() == {"records_read": 0, "by_outcome": {}, "kept": 0, "dropped": 0,
                                                          "errored": 0}
