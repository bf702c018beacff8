"""An S3-compatible bucket as an object store (AWS, MinIO, Ceph, moto...).

The endpoint comes from ``AWS_ENDPOINT_URL`` (unset: AWS itself), credentials
from the usual AWS variables or files. Retries are botocore's ``standard``
mode; objects above one part are sent as a multipart upload (aborted on any
failure, so no half-written object is ever visible).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
)

from invigil.evidence.stores import ObjectMissing, StoreUnavailable, check_key

PART_SIZE = 8 * 1024 * 1024  # S3 needs at least 5 MiB for every part but the last
READ_SIZE = 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}


def make_client(endpoint_url: str | None = None) -> Any:
    config = Config(
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        s3={"addressing_style": "path"},
    )
    return boto3.client(
        "s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL"), config=config
    )


class S3Store:
    def __init__(
        self, bucket: str, *, prefix: str = "", client: Any = None, part_size: int = PART_SIZE
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.part_size = max(part_size, 5 * 1024 * 1024)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client()
        return self._client

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, exc: Exception, doing: str, key: str | None = None) -> Exception:
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING and key is not None:
                return ObjectMissing(f"no object {key} in {self.location}")
            if code == "NoSuchBucket":
                return StoreUnavailable(f"bucket {self.bucket} does not exist ({doing})")
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return StoreUnavailable(f"{self.location} refused access ({code}, {doing})")
            return StoreUnavailable(f"{self.location} answered {code or 'an error'} ({doing})")
        if isinstance(exc, EndpointConnectionError):
            return StoreUnavailable(f"cannot reach the S3 endpoint for {self.location} ({doing})")
        return StoreUnavailable(f"{self.location} failed ({type(exc).__name__}, {doing})")

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        name = self._key(key)
        buffer = bytearray()
        iterator = iter(chunks)
        for chunk in iterator:
            buffer += chunk
            if len(buffer) > self.part_size:
                return self._multipart(name, key, buffer, iterator)
        try:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "put") from exc
        return len(buffer)

    def _multipart(self, name: str, key: str, buffer: bytearray, rest: Iterator[bytes]) -> int:
        try:
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)[
                "UploadId"
            ]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "put") from exc
        parts: list[dict[str, Any]] = []
        written = 0

        def send(body: bytes) -> None:
            number = len(parts) + 1
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=body
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        try:
            while True:
                while len(buffer) >= self.part_size:
                    send(bytes(buffer[: self.part_size]))
                    written += self.part_size
                    del buffer[: self.part_size]
                chunk = next(rest, None)
                if chunk is None:
                    break
                buffer += chunk
            if buffer or not parts:
                send(bytes(buffer))
                written += len(buffer)
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException as exc:
            # if even the abort fails, a bucket lifecycle rule cleans up abandoned parts
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            if isinstance(exc, ClientError | BotoCoreError):
                raise self._fail(exc, "multipart put") from exc
            raise
        return written

    def get(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "get", key) from exc
        return self._stream(body)

    def _stream(self, body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(READ_SIZE)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "read") from exc
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "delete") from exc

    def _head(self, key: str) -> dict[str, Any]:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "head", key) from exc
        return head

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except ObjectMissing:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def probe(self) -> None:
        key = f"probe/{uuid.uuid4().hex}"
        self.put(key, [b"ok"])
        if b"".join(self.get(key)) != b"ok":
            raise StoreUnavailable(f"{self.location} returned other bytes than written")
        self.delete(key)
