"""Statements run as compiled (shared.statements.run_statement, insert_together): the same
rows, the same transaction and the same errors as through the session, on both
databases."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from shared.db import create_sessionmaker
from shared.ids import uuid7
from shared.models import Agreement, AgreementParty, Organization
from shared.rendered import in_jsonb_order
from shared.statements import insert_together, run_many, run_statement

_ORGANIZATIONS = Organization.__table__
_AGREEMENTS = Agreement.__table__
_PARTIES = AgreementParty.__table__

_IN = (
    select(_AGREEMENTS.c.id, _AGREEMENTS.c.objectives, _AGREEMENTS.c.created_at)
    .where(_AGREEMENTS.c.id.in_(bindparam("ids", expanding=True)))
    .where(_AGREEMENTS.c.version >= 1)
    .order_by(_AGREEMENTS.c.id)
)
_NOT_IN = (
    select(_AGREEMENTS.c.id)
    .where(_AGREEMENTS.c.id.not_in(bindparam("ids", expanding=True)))
    .order_by(_AGREEMENTS.c.id)
)
_COUNT = select(func.count()).select_from(_AGREEMENTS)


def _organization() -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": uuid7(),
        "name": "Authority",
        "kind": "government_agency",
        "country": "PK",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _agreement(reference: str) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {
        "id": uuid7(),
        "reference": reference,
        "title": "A memorandum",
        "instrument_type": "mou",
        "legal_character": "non_binding",
        "focus_areas": ["energy"],
        "objectives": [{"ref": "O1", "text": "One"}],
        "status": "draft",
        "terms_version": 1,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


async def test_rows_written_first_in_a_transaction_roll_back_with_it(engine) -> None:
    maker = create_sessionmaker(engine)
    async with maker() as session:
        # Nothing went through the session before: the BEGIN must still come first.
        await insert_together(session, [(_AGREEMENTS, [_agreement("ROLLED-BACK")])])
        assert (await run_statement(session, _COUNT, {}))[0][0] == 1
        await session.rollback()
    async with maker() as session:
        assert (await run_statement(session, _COUNT, {}))[0][0] == 0


async def test_rows_of_several_tables_referring_to_each_other_go_in_together(engine) -> None:
    organization, agreement = _organization(), _agreement("TOGETHER")
    party = {
        "agreement_id": agreement["id"],
        "organization_id": organization["id"],
        "role": "signatory",
        "position": 0,
    }
    async with create_sessionmaker(engine)() as session:
        await insert_together(
            session,
            [(_ORGANIZATIONS, [organization]), (_AGREEMENTS, [agreement]), (_PARTIES, [party])],
        )
        await session.commit()
    async with create_sessionmaker(engine)() as session:
        parties = await session.scalars(
            select(AgreementParty.organization_id).where(
                AgreementParty.agreement_id == agreement["id"]
            )
        )
        assert list(parties) == [organization["id"]]


async def test_a_violated_constraint_is_sqlalchemys_integrity_error(engine) -> None:
    async with create_sessionmaker(engine)() as session:
        await insert_together(session, [(_AGREEMENTS, [_agreement("TWICE")])])
        with pytest.raises(IntegrityError):
            await insert_together(session, [(_AGREEMENTS, [_agreement("TWICE")])])
        await session.rollback()
    missing_organization = {
        "agreement_id": uuid.uuid4(),
        "organization_id": uuid.uuid4(),
        "role": "signatory",
        "position": 0,
    }
    async with create_sessionmaker(engine)() as session:
        with pytest.raises(IntegrityError):
            await insert_together(session, [(_PARTIES, [missing_organization])])
        await session.rollback()


async def test_an_expanding_list_selects_what_the_session_selects(engine) -> None:
    rows = [_agreement(f"LIST-{number}") for number in range(3)]
    async with create_sessionmaker(engine)() as session:
        await insert_together(session, [(_AGREEMENTS, rows)])
        await session.commit()
    wanted = [rows[0]["id"], rows[2]["id"]]
    async with create_sessionmaker(engine)() as session:
        for statement, ids in ((_IN, wanted), (_IN, []), (_NOT_IN, wanted), (_NOT_IN, [])):
            compiled = await run_statement(session, statement, {"ids": ids})
            through_session = (await session.execute(statement, {"ids": ids})).all()
            assert [tuple(row) for row in compiled] == [tuple(row) for row in through_session]
        [first, last] = await run_statement(session, _IN, {"ids": wanted})
    # Values come back through their types, with the columns' names.
    assert first.id == rows[0]["id"]
    assert last.objectives == [{"ref": "O1", "text": "One"}]
    assert first.created_at == rows[0]["created_at"]
    assert first.created_at.tzinfo is not None


_OBJECTIVES_OF = select(_AGREEMENTS.c.objectives).where(_AGREEMENTS.c.id == bindparam("id"))


async def _objectives_read_back(engine, row: dict[str, object]) -> tuple[object, object]:
    """The agreement ``row`` written, its objectives read back as compiled and
    through the ORM (in a transaction rolled back)."""
    async with create_sessionmaker(engine)() as session:
        await insert_together(session, [(_AGREEMENTS, [row])])
        [(read,)] = await run_statement(session, _OBJECTIVES_OF, {"id": row["id"]})
        agreement = await session.get(Agreement, row["id"])
        assert agreement is not None
        orm_read = agreement.objectives
        await session.rollback()
    return read, orm_read


async def test_a_document_in_jsonb_order_reads_back_as_written(engine) -> None:
    """What lets a stored rollup be rendered from the body written (shared.rendered)."""
    objectives = [
        {"text": "x", "ref": "O1", "zz": {"bb": 1, "a": 2, "é": 3, "ab": [{"ccc": 1, "d": 2}]}},
        {"a10": 1, "a9": 2, "B": 3, "b": 4},
    ]
    written = in_jsonb_order(objectives)
    read, _ = await _objectives_read_back(engine, {**_agreement("ORDER"), "objectives": written})
    assert read == objectives
    assert json.dumps(read) == json.dumps(written)
    assert list(written[0]) == ["zz", "ref", "text"]
    assert list(written[0]["zz"]) == ["a", "ab", "bb", "é"]
    assert list(written[1]) == ["B", "b", "a9", "a10"]


async def test_a_document_reads_back_the_same_through_the_engines_json_codecs(engine) -> None:
    """jsonb values go through pydantic-core on PostgreSQL (shared.db.json_text):
    text, numbers, nulls and nesting come back as json's codec would give them."""
    objectives = [
        {"ref": "O1", "text": 'Gilgit-Baltistan: énergie, 水力, "quoted"\n\ttab \u0001'},
        {"ref": "O2", "share": 0.1, "big": 2**63 + 1, "none": None, "flags": [True, False]},
        {"ref": "O3", "nested": {"deeper": [{"x": -1.5e-7}, [], {}]}},
    ]
    row = {**_agreement("CODECS"), "objectives": objectives}
    read, orm_read = await _objectives_read_back(engine, row)
    expected = json.loads(json.dumps(objectives))
    assert read == expected
    assert orm_read == expected


async def test_run_many_runs_a_statement_once_per_row_in_the_transaction(engine) -> None:
    rows = [_agreement(f"MANY-{number}") for number in range(3)]
    retitle = (
        update(_AGREEMENTS)
        .where(_AGREEMENTS.c.id == bindparam("agreement_id"))
        .values(title=bindparam("new_title"), updated_at=_AGREEMENTS.c.updated_at)
    )
    titles = select(_AGREEMENTS.c.title).order_by(_AGREEMENTS.c.reference)
    async with create_sessionmaker(engine)() as session:
        await insert_together(session, [(_AGREEMENTS, rows)])
        await run_many(
            session,
            retitle,
            [{"agreement_id": row["id"], "new_title": f"Title {n}"} for n, row in enumerate(rows)],
        )
        assert [row[0] for row in await run_statement(session, titles, {})] == [
            "Title 0",
            "Title 1",
            "Title 2",
        ]
        await session.rollback()
    async with create_sessionmaker(engine)() as session:
        assert (await run_statement(session, _COUNT, {}))[0][0] == 0


async def test_a_statement_leaving_a_python_default_to_sqlalchemy_is_refused(engine) -> None:
    """Such a default is computed by SQLAlchemy's execution, which the compiled
    statement bypasses: leaving it out would write a null."""
    if engine.dialect.name != "postgresql":
        pytest.skip("elsewhere statements run through the session, which computes defaults")
    touches = update(_AGREEMENTS).values(title=bindparam("new_title"))
    async with create_sessionmaker(engine)() as session:
        with pytest.raises(ValueError, match="updated_at: a default computed in Python"):
            await run_many(session, touches, [{"new_title": "Renamed"}])
        with pytest.raises(ValueError, match="updated_at: a default computed in Python"):
            await run_statement(session, touches, {"new_title": "Renamed"})
