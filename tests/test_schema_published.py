"""The checked-in schema.graphql is the schema the code serves (DESIGN.md, layout)."""

from pathlib import Path

from offerdesk.graphql.schema import export_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_checked_in_schema_matches_the_code_byte_for_byte() -> None:
    published = SCHEMA_FILE.read_bytes()
    assert export_sdl().encode() == published, (
        "schema.graphql differs from the code's schema: run `make schema` and commit it"
    )
