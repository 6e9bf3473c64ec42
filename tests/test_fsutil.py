"""Path handling shared by the driver and the executors' Python side (pyarrow.fs)."""

from __future__ import annotations

import pyarrow.fs as pafs

from curation import fsutil


def test_local_paths_and_file_uris_resolve_to_the_local_filesystem(tmp_path):
    fs, p = fsutil.resolve(str(tmp_path / "a"))
    assert isinstance(fs, pafs.LocalFileSystem) and p == str(tmp_path / "a")


def test_s3a_is_read_by_pyarrow_as_s3_with_the_endpoint_from_the_environment(monkeypatch):
    # docs/cluster.md tells MinIO/Ceph users to set AWS_ENDPOINT_URL_S3 for the Python side: if a
    # pyarrow upgrade stopped reading it, Python-side I/O would silently go to AWS instead.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fs, p = fsutil.resolve("s3a://bucket/runs/x/part-0.parquet")
    assert isinstance(fs, pafs.S3FileSystem)
    assert p == "bucket/runs/x/part-0.parquet"
    options = fs.__reduce__()[1][0]
    assert options["endpoint_override"] == "http://127.0.0.1:9"
