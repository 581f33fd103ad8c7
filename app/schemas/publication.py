"""The published datasets, their files, the change feed and the search, as the API shows them."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.schemas.common import ApiModel


class DistributionOut(ApiModel):
    format: Literal["csv", "json", "geojson"]
    url: str = Field(description="Download URL (the extension tells the format).")
    media_type: str
    byte_size: int = Field(description="Size of the file, in bytes.")
    sha256: str = Field(description="SHA-256 of the file, hexadecimal (also in Repr-Digest).")
    sha1: str = Field(description="SHA-1 of the file, hexadecimal (the catalog's spdx:checksum).")
    schema_url: str | None = Field(description="TableSchema of the CSV file.")


class DatasetOut(ApiModel):
    identifier: str = Field(description="Permanent identifier, never reused.", examples=["actions"])
    dct_identifier: str = Field(
        description="The dataset's dct:identifier in the DCAT catalog.",
        examples=["246200364-actions"],
    )
    title: str
    description: str
    keywords: list[str]
    themes: list[str] = Field(description="EU data themes (URIs).")
    key: str = Field(description="The column holding each record's public key.")
    modified_at: datetime | None = Field(description="Last change to the dataset's records.")
    version: int = Field(description="Increases with every committed change to the dataset.")
    distributions: list[DistributionOut]


class ChangeOut(ApiModel):
    sequence: int = Field(description="Position in the change log (increasing within a page).")
    dataset: str = Field(examples=["actions"])
    key: str = Field(description="Public key of the record.", examples=["1.2.1.1"])
    operation: Literal["insert", "update", "delete"]
    changed_at: datetime
    url: str | None = Field(description="The record in the API, while it exists.")
    record: dict[str, Any] | None = Field(
        description="The record as it is now (the dataset's JSON export row), or null when it "
        "no longer exists: apply null as a deletion, anything else as an upsert."
    )


class ChangePage(ApiModel):
    items: list[ChangeOut]
    next_cursor: str = Field(
        description="Where to resume: pass it as `cursor`, now or later, to get what follows."
    )
    has_more: bool = Field(description="Whether more changes are available now.")


class SearchHit(ApiModel):
    dataset: str = Field(examples=["actions"])
    key: str = Field(examples=["1.2.1.1"])
    title: str
    url: str | None
    rank: float = Field(description="Relevance (higher first).")
    highlights: dict[str, str] = Field(
        description="Fragments of the matching fields as HTML: the text is escaped and each "
        "match is wrapped in <mark>."
    )
    updated_at: datetime
