"""Streams an ingest upload (raw text/csv body, or the `file` field of a multipart form) to a scratch
file, enforcing the size cap while the bytes arrive: an oversized upload is refused without ever
being held in memory or written past the cap. The conversion reads the spool while it is written."""

from __future__ import annotations

from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from lakehouse_assets.core.errors import LakehouseError
from lakehouse_assets.core.ingest.spool import Spool, TooLarge

# A part of an upload needs a Content-Disposition and perhaps a Content-Type: a few short headers.
MAX_PART_HEADERS, MAX_PART_HEADER_BYTES = 8, 4096
RAW_TYPES = {"text/csv", "application/csv", "text/plain", "application/octet-stream", ""}
MULTIPART = "multipart/form-data"


class BadUpload(LakehouseError, ValueError):
    """The request does not carry a CSV the way the endpoint takes it."""

    status = 400
    code = "bad_upload"


class UnsupportedMediaType(LakehouseError, ValueError):
    status = 415
    code = "unsupported_media_type"


def _media_type(request: Request) -> tuple[str, dict[bytes, bytes]]:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    return content_type.decode("latin-1").lower(), params


def open_spool(request: Request, scratch_dir: Path, max_bytes: int) -> Spool:
    """A spool for the request's CSV, once its declared size and media type are acceptable."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise TooLarge(max_bytes)
    media, _ = _media_type(request)
    if media != MULTIPART and media not in RAW_TYPES:
        raise UnsupportedMediaType(
            f"unsupported content type {media!r}: send text/csv or multipart/form-data with a 'file' field"
        )
    return Spool(scratch_dir, max_bytes)


async def receive_upload(request: Request, spool: Spool) -> None:
    """Write the uploaded CSV into `spool` as it arrives, then close it; on any failure it is discarded
    (its readers end with UploadAborted). The caller deletes the file."""
    media, params = _media_type(request)
    try:
        if media == MULTIPART:
            await _read_multipart(request, spool, params.get(b"boundary"))
        else:
            async for chunk in request.stream():
                spool.write(chunk)
    except BaseException:
        spool.discard()
        raise
    spool.close()


async def _read_multipart(request: Request, spool: Spool, boundary: bytes | None) -> None:
    if not boundary:
        raise BadUpload("multipart body has no boundary in its Content-Type")
    state = {"field": b"", "value": b"", "headers": {}, "in_file": False, "found": False}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(state["headers"].get("content-disposition", b""))
        state["in_file"] = opts.get(b"name") == b"file" and not state["found"]
        state["found"] = state["found"] or state["in_file"]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["in_file"]:
            spool.write(data[start:end])

    def on_part_end() -> None:
        state["headers"], state["in_file"] = {}, False

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except TooLarge:
        raise
    except Exception as e:
        raise BadUpload(f"malformed multipart body: {e}") from None
    if not state["found"]:
        raise BadUpload("multipart body has no 'file' field")
