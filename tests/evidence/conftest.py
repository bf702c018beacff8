"""An S3 peer for the evidence tests: moto's server on loopback (one per
test process), with throwaway credentials in the environment."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from invigil.evidence.service import Evidence
from invigil.evidence.stores.s3 import make_client
from tests.evidence.factories import make_evidence

_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {**_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            mp.setenv(name, value)
        yield endpoint
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return make_client(s3_endpoint)


def new_bucket(s3: Any, name: str | None = None) -> str:
    bucket = name or f"ev-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    return bucket


def bucket_bytes(s3: Any, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def folder_bytes(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    """Local stores under a temporary folder, one per region."""
    return make_evidence(tmp_path)
