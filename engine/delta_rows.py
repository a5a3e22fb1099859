"""Turn a streamed page of a run's delta into the rows delivery sends.

A page comes from the warehouse as columns; each row becomes a :class:`DeltaRow` holding its
mapped payload (the fields Python writes, or the JSON object the warehouse built with
Python's mappings spliced in) and the model columns the destination reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.changed_fields import DELTA_COLUMN, ChangedFields
from engine.config import Mapping, SyncConfig
from engine.destinations.base import DeltaRow, OpType
from engine.destinations.json_encoding import dumps
from engine.joined_payload import JoinedPayload
from engine.mapping_values import MappedRow, MappingFailed
from engine.model import BoundModel


def to_delta_rows(
    page: dict[str, list[Any]],
    model: BoundModel,
    sync: SyncConfig,
    row_columns: list[str] | None = None,
    payload_json: bool = False,
    left_to_python: Sequence[Mapping] = (),
    variables: dict[str, Any] | None = None,
    changed_fields: ChangedFields | None = None,
) -> list[DeltaRow]:
    """Turn a streamed page of the delta (as columns) into DeltaRows: the mapped payload
    (``fields``, or with ``payload_json`` the JSON object ``payload``) plus the model columns
    the destination reads (``row_columns``; by default every sent column, see
    :attr:`BoundModel.sent_columns`).

    A payload the warehouse built comes as its values joined (engine/joined_payload.py) and
    lacks the mappings it leaves to Python (``left_to_python``, see
    :func:`engine.delta_queries.mappings_left_to_python`): they are written here (see
    :mod:`engine.mapping_values`, with the run's ``variables``) and spliced in. Without one,
    Python writes the whole payload. A row whose mapping fails carries the reason in
    ``failure`` and is not sent. With ``changed_fields`` (``send: changed_fields``) a changed
    row whose delta names its changed field groups gets only those mappings.
    """
    stage = model.stage_columns()
    wanted = model.sent_columns if row_columns is None else row_columns
    ops: list[OpType] = page["_lightning_op"]
    ids = [str(value) for value in page["_lightning_row_id"]]
    addresses = [
        match if match is not None else row_id
        for match, row_id in zip(page["_lightning_match"], ids, strict=True)
    ]
    model_rows = _records(page, stage, wanted, wanted, len(ids))
    built: list[str | None] | None = page.get("_lightning_payload")
    in_warehouse = payload_json and built is not None and None not in built
    python_side = [
        (index, mapping)
        for index, mapping in enumerate(sync.mappings)
        if not in_warehouse or mapping in left_to_python
    ]
    only: list[frozenset[int] | None] | None = None
    flags = page.get(DELTA_COLUMN)
    if changed_fields is not None and flags is not None:
        only = [
            changed_fields.included(flag) if op == "changed" else None
            for op, flag in zip(ops, flags, strict=True)
        ]
    fields, failures = _python_fields(page, model, python_side, ops, variables or {}, only)
    payloads: list[bytes | None] = [None] * len(ids)
    if in_warehouse:
        names = [m.to for m in sync.mappings if m not in left_to_python]
        payloads = list(JoinedPayload(names).objects(built))  # type: ignore[arg-type]
        if python_side:
            payloads = [
                _spliced(payload, dumps(record))  # type: ignore[arg-type]
                for payload, record in zip(payloads, fields, strict=True)
            ]
        fields = [{} for _ in ids]
    elif payload_json:  # the warehouse left it to Python
        payloads = [dumps(record) for record in fields]
        fields = [{} for _ in ids]
    rows = []
    for row_id, op, record, model_row, address, payload, failure in zip(
        ids, ops, fields, model_rows, addresses, payloads, failures, strict=True
    ):
        if op == "removed":
            rows.append(DeltaRow(row_id, op, {}, {}, address))
        else:
            rows.append(DeltaRow(row_id, op, record, model_row, address, payload, failure))
    return rows


def _python_fields(
    page: dict[str, list[Any]],
    model: BoundModel,
    mappings: list[tuple[int, Mapping]],
    ops: list[OpType],
    variables: dict[str, Any],
    only: list[frozenset[int] | None] | None = None,
) -> tuple[list[dict[str, Any]], list[str | None]]:
    """The fields Python writes for each row of a page, and each row's mapping failure;
    ``only[i]``: the indexes of the mappings row ``i`` sends (None: every one)."""
    stage = model.stage_columns()
    n = len(ops)
    if all(m.plain_column for _, m in mappings):  # the fast path: columns as they are
        sources = [str(m.from_) for _, m in mappings]
        records = _records(page, stage, sources, [m.to for _, m in mappings], n)
        if only is not None:
            targets = {index: m.to for index, m in mappings}
            for record, included in zip(records, only, strict=True):
                if included is not None:
                    kept = {targets[i] for i in included if i in targets}
                    for key in [k for k in record if k not in kept]:
                        del record[key]
        return records, [None] * n
    reads = [model.reads_of(index, mapping) for index, mapping in mappings]
    columns = list(dict.fromkeys(column for pairs in reads for _, column in pairs))
    values = _records(page, stage, columns, columns, n)
    builder = MappedRow(mappings, reads, variables)
    fields: list[dict[str, Any]] = []
    failures: list[str | None] = []
    for i, (row_values, op) in enumerate(zip(values, ops, strict=True)):
        if op == "removed":
            fields.append({})
            failures.append(None)
            continue
        try:
            fields.append(builder.fields(row_values, op, None if only is None else only[i]))
            failures.append(None)
        except MappingFailed as failed:
            fields.append({})
            failures.append(str(failed))
    return fields, failures


def _spliced(built: bytes, written: bytes) -> bytes:
    """Two JSON objects (text) as one: the warehouse's, then Python's members."""
    built = built.rstrip()
    if written == b"{}":
        return built
    if built[1:-1].strip() == b"":
        return written
    return built[:-1] + b"," + written[1:]


def _records(
    page: dict[str, list[Any]], stage: dict[str, str], columns: list[str], keys: list[str], n: int
) -> list[dict[str, Any]]:
    """One dict per row: ``keys`` -> the values of the model ``columns`` (stored names)."""
    if not columns:
        return [{} for _ in range(n)]
    values = zip(*(page[stage[column]] for column in columns), strict=True)
    return [dict(zip(keys, row, strict=True)) for row in values]
