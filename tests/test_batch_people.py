"""`diffpose batch --person all`: the one-person formats are written one file per person
(`name_p0.bvh`, `name_p1.bvh`, ...), and the batch's planning, resuming, refusing, cleaning up and
report know those files (batch/person_files.py). The folder logic on real files, then one short
real two-person clip through the command line: run, rerun with --skip-existing, rerun without
--overwrite, rerun with --overwrite over a stale file of an earlier run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hostile_inputs as make
from cli_in_process import run_cli
from diffpose_cli.batch import REPORT_NAME
from diffpose_cli.batch.person_files import person_temporaries
from diffpose_cli.batch.plan import (find_videos, plan_batch, remove_outputs_of_failed_attempt,
                                     remove_stale_person_files)
from diffpose_cli.export.json_format import SCHEMA_NAME, person_ids
from diffpose_cli.files import temporary_prefix
from diffpose_cli.result import SCHEMA_VERSION
from lifter_for_tests import lifter_cli_args


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def pose_file(path: Path, ids) -> Path:
    """The head of a pose JSON listing persons `ids` (what planning reads of it: their IDs)."""
    document = {"schema": SCHEMA_NAME, "schema_version": SCHEMA_VERSION,
                "persons": [{"id": i, "main": i == ids[0], "frames": []} for i in ids]}
    return touch(path, json.dumps(document).encode())


def plan(source, out, formats, skip=False, overwrite=False, people=True, pattern=None):
    entries = plan_batch(find_videos(source, pattern=pattern), source, out, formats, skip, overwrite, people=people)
    return {e.input.as_posix(): e for e in entries}


# --- the folder logic (no models) ---------------------------------------------------------------

def test_skip_existing_counts_the_per_person_files_the_json_lists(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    touch(source / "a.mp4")
    pose_file(out / "a.json", [0, 1])
    p0, p1 = touch(out / "a_p0.bvh"), touch(out / "a_p1.bvh")

    a = plan(source, out, ["json", "bvh"], skip=True)["a.mp4"]
    assert a.status == "skipped" and a.write == []
    assert a.files() == [out / "a.json", p0, p1]          # the report's outputs: the files there

    p1.unlink()                                            # half a set: rewriting it needs --overwrite
    a = plan(source, out, ["json", "bvh"], skip=True)["a.mp4"]
    assert a.status == "failed" and a.reason.startswith("incomplete per-person outputs: ")
    assert str(p1) in a.reason and "--overwrite" in a.reason and "\n" not in a.reason

    # without a JSON of this batch to count the persons, any per-person file stands for the set
    b = plan(source, out, ["bvh"], skip=True)["a.mp4"]
    assert b.status == "skipped" and b.files() == [p0]

    # the JSON missing, the BVHs there: only the JSON is written
    (out / "a.json").unlink()
    c = plan(source, out, ["json", "bvh"], skip=True)["a.mp4"]
    assert c.status == "pending" and c.write == [out / "a.json"] and c.fresh == [out / "a.json"]


def test_an_existing_per_person_file_refuses_the_video_before_any_work(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    touch(source / "a.mp4")
    p0 = touch(out / "a_p0.bvh")
    a = plan(source, out, ["json", "bvh"])["a.mp4"]
    assert a.status == "failed"
    assert a.reason == f"output exists: {p0} (use --overwrite to replace, --skip-existing to keep)"

    # --person main or an ID: plain names, and `a_p0.bvh` is no output of this batch
    main = plan(source, out, ["json", "bvh"], people=False)["a.mp4"]
    assert main.status == "pending" and main.fresh == [out / "a.json", out / "a.bvh"]

    # with --overwrite: planned, and the per-person files there are kept by a failed attempt
    over = plan(source, out, ["json", "bvh"], overwrite=True)["a.mp4"]
    assert over.status == "pending" and over.kept == [p0] and over.fresh == [out / "a.json"]


def test_a_plain_name_of_an_earlier_person_main_run_is_left_alone(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    touch(source / "a.mp4")
    plain = touch(out / "a.bvh")
    a = plan(source, out, ["bvh"])["a.mp4"]
    # not written by --person all, so neither a clash nor one of this attempt's files to delete
    assert a.status == "pending" and a.fresh == [] and a.kept == []
    remove_outputs_of_failed_attempt(a.write, a.fresh, a.people, a.kept)
    assert plain.exists()


def test_per_person_outputs_in_the_input_folder_are_not_inputs(tmp_path):
    for name in ("a.mp4", "a_p0.bvh", "a_p1.bvh", "a.json", "b_p0.mp4"):
        touch(tmp_path / name)
    entries = plan(tmp_path, tmp_path, ["json", "bvh"], skip=True, pattern="*")
    assert sorted(entries) == ["a.mp4", "b_p0.mp4"]      # b_p0.mp4 is nobody's output
    assert entries["a.mp4"].status == "skipped" and entries["b_p0.mp4"].status == "pending"


def test_a_failed_attempt_leaves_no_per_person_file_it_made(tmp_path):
    out = tmp_path / "out"
    bvh, json_out = out / "a.bvh", out / "a.json"
    there_before = touch(out / "a_p0.bvh")                       # --overwrite: kept
    made = [touch(out / "a_p1.bvh"), touch(out / "a_p12.bvh"), touch(json_out),
            touch(out / ".a_p2.bvh.part-0a1b2c3d"), touch(out / ".a.json.part-deadbeef")]
    others = [touch(out / "a_p0_p0.bvh"), touch(out / "ab_p0.bvh"), touch(out / "a_p1.npz"),
              touch(out / ".a_p1.bvh.part-notmine"), touch(out / "b_p0.bvh")]
    remove_outputs_of_failed_attempt([json_out, bvh], [json_out], people=True, kept=[there_before])
    assert there_before.exists() and all(p.exists() for p in others)
    assert not any(p.exists() for p in made)


def test_temporaries_of_per_person_names_cut_to_fit(tmp_path):
    """A name so long that the temporary name is cut (files.temporary_prefix) before or inside the ID."""
    for stem in ("é" * 118, "é" * 120, "x" * 237, "x" * 238):
        bvh = tmp_path / f"{stem}.bvh"
        person = bvh.with_name(f"{stem}_p12.bvh")
        temporary = touch(tmp_path / (temporary_prefix(person) + "0a1b2c3d"))
        assert person_temporaries(bvh) == [temporary]
        temporary.unlink()


def test_stale_per_person_files_go_only_when_there_before_and_not_rewritten(tmp_path):
    out = tmp_path / "out"
    p0, p1, p2 = (touch(out / f"a_p{i}.bvh") for i in range(3))
    newcomer, npz = touch(out / "a_p3.bvh"), touch(out / "a_p2.npz")
    assert remove_stale_person_files([out / "a.json", out / "a.bvh"], [out / "a.json", p0, p1],
                                     kept=[p0, p1, p2, npz]) == []
    assert p0.exists() and p1.exists() and not p2.exists()
    assert newcomer.exists() and npz.exists()        # not there when planned / not a format written


def test_person_ids_reads_the_ids_only(tmp_path):
    assert person_ids(pose_file(tmp_path / "p.json", [3, 0])) == [3, 0]


# --- end to end: a real two-person clip ---------------------------------------------------------

@pytest.fixture(scope="module")
def two_people_folder(videos_dir, tmp_path_factory) -> Path:
    """Frames 60-89 of two_people.mp4 at half size: the man on the box and the woman on the lawn
    both in view (tests/test_people.py's labels)."""
    source = tmp_path_factory.mktemp("people") / "in"
    source.mkdir()
    make.cut(videos_dir / "two_people.mp4", source / "two.mp4", 60, 30, filters="scale=iw/2:-2")
    return source


def batch(source: Path, out: Path, *extra):
    return run_cli("batch", source, "--out", out, "--person", "all", "--hypotheses", "1", "--steps", "1",
                   "--workers", "1", "--quiet", *lifter_cli_args(), *extra)


def row_of(out: Path) -> dict:
    rows = json.loads((out / REPORT_NAME).read_text(encoding="utf-8"))["files"]
    assert len(rows) == 1
    return rows[0]


def snapshot(out: Path) -> dict:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(out.iterdir()) if p.name != REPORT_NAME}


def test_batch_person_all_resumes_refuses_and_reports_per_person_files(two_people_folder, tmp_path):
    out = tmp_path / "out"
    first = batch(two_people_folder, out, "--format", "json,bvh")
    assert first.code == 0, first.explain()
    written = [out / "two.json", out / "two_p0.bvh", out / "two_p1.bvh"]
    assert sorted(p.name for p in out.iterdir()) == sorted([REPORT_NAME] + [p.name for p in written])
    assert person_ids(out / "two.json") == [0, 1]
    row = row_of(out)
    assert row["status"] == "done" and row["outputs"] == [str(p) for p in written]
    before = snapshot(out)

    # --skip-existing: skipped, nothing touched, the report names the files there
    again = batch(two_people_folder, out, "--format", "json,bvh", "--skip-existing")
    assert again.code == 0, again.explain()
    row = row_of(out)
    assert row["status"] == "skipped" and row["reason"] == "all outputs exist" and row["seconds"] is None
    assert row["outputs"] == [str(p) for p in written]
    assert snapshot(out) == before

    # neither flag: refused before any work (no seconds), one line naming the file that exists;
    # with `bvh` alone the existing file is a per-person one (before: found only after the work)
    for formats, existing in (("json,bvh", "two.json"), ("bvh", "two_p0.bvh")):
        refused = batch(two_people_folder, out, "--format", formats)
        assert refused.code == 3, refused.explain()
        row = row_of(out)
        assert row["status"] == "failed" and row["seconds"] is None, row
        assert row["reason"] == (f"output exists: {out / existing} "
                                 "(use --overwrite to replace, --skip-existing to keep)")
        assert f"two.mp4: {row['reason']}" in refused.stderr
        assert snapshot(out) == before

    # --overwrite: the set is written again, and a file of an earlier run with more people goes
    stale = (out / "two_p7.bvh")
    stale.write_bytes((out / "two_p1.bvh").read_bytes())
    over = batch(two_people_folder, out, "--format", "json,bvh", "--overwrite")
    assert over.code == 0, over.explain()
    assert not stale.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([REPORT_NAME] + [p.name for p in written])
    assert row_of(out)["outputs"] == [str(p) for p in written]
    assert all(snapshot(out)[p.name][0] > before[p.name][0] for p in written)
    assert make.leftovers(out) == []
