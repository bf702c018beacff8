"""The S3 peer of the evidence tests (moto's server), for the purge's S3 test."""

from tests.evidence.conftest import s3, s3_endpoint

__all__ = ["s3", "s3_endpoint"]
