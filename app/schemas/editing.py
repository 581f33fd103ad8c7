"""What editors send to create and change the plan and its follow-up, and what the admin routes
answer (keys, the audit log, deletions).

Bodies refuse unknown fields; every text is bounded and stored as given (no trimming, no
escaping: a `<script>` is data, returned as a JSON string), control characters apart (PostgreSQL
cannot store NUL). A PATCH body is a JSON merge patch: absent fields stay, `null` clears.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.models.follow_up import (
    INDICATOR_CODE_PATTERN,
    BudgetNature,
    Direction,
    Frequency,
    ValueKind,
)
from app.models.participation import Scope
from app.models.plan import ActionStatus, DatePrecision
from app.schemas.common import (
    CODE_PATTERN,
    INSEE_PATTERN,
    ApiModel,
    GeometryMapping,
    _printable,
)

TITLE_MAX = 500
TEXT_MAX = 20_000


Title = Annotated[
    str, StringConstraints(min_length=1, max_length=TITLE_MAX), AfterValidator(_printable)
]
LongText = Annotated[
    str, StringConstraints(min_length=1, max_length=TEXT_MAX), AfterValidator(_printable)
]
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_printable)
]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN, max_length=40)]
Insee = Annotated[str, StringConstraints(pattern=INSEE_PATTERN)]
IndicatorCode = Annotated[str, StringConstraints(pattern=INDICATOR_CODE_PATTERN)]
Weight = Annotated[Decimal, Field(gt=0, max_digits=10, decimal_places=4, allow_inf_nan=False)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2, allow_inf_nan=False)]
Euros = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]
Number = Annotated[Decimal, Field(allow_inf_nan=False, gt=Decimal("-1e15"), lt=Decimal("1e15"))]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict[str, Any]:
        """The fields the client sent (a merge patch's members), with their values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class NodeFields(Body):
    title: Title | None = None
    description: LongText | None = None
    source_excerpt: LongText | None = None
    weight: Weight | None = Field(default=None, description="Share in the parent's progress.")


class NodeCreate(NodeFields):
    code: Code = Field(description="Permanent code: the parent's code and one more number.")
    parent: Code | None = Field(
        default=None,
        description="The parent's code; implied by `code` (1.2.3 is under 1.2). Optional, and "
        "when given it must agree with `code`.",
    )
    title: Title


class NodePatch(NodeFields):
    code: Code | None = Field(default=None, description="Permanent: may only repeat the code.")
    parent: Code | None = Field(default=None, description="Fixed by the code: may only repeat it.")


class ActionFields(Body):
    status: ActionStatus | None = None
    status_excerpt: LongText | None = None
    lead: Title | None = None
    partners: list[Title] | None = Field(default=None, max_length=200)
    communes: list[Insee] | None = Field(
        default=None, max_length=1000, description="INSEE codes of member communes."
    )
    start_date: dt.date | None = None
    start_date_precision: DatePrecision | None = None
    end_date: dt.date | None = None
    geometry: GeometryMapping | None = Field(
        default=None, description="GeoJSON Point, LineString or Polygon (WGS84) in the territory."
    )
    progress: Percent | None = Field(default=None, description="0 to 100; null: from milestones.")


class ActionCreate(NodeCreate, ActionFields):
    pass


class ActionPatch(NodePatch, ActionFields):
    pass


class IndicatorFields(Body):
    name: Title | None = None
    description: LongText | None = None
    unit: ShortText | None = None
    direction: Direction | None = None
    frequency: Frequency | None = None
    source_producer: LongText | None = None
    source_method: LongText | None = None
    source_limits: LongText | None = None
    source_url: LongText | None = None
    source_excerpt: LongText | None = None
    measures: list[Code] | None = Field(
        default=None,
        max_length=1000,
        description="Codes of the ambitions, objectives and actions it measures.",
    )


class IndicatorCreate(IndicatorFields):
    code: IndicatorCode
    name: Title
    unit: ShortText


class IndicatorPatch(IndicatorFields):
    code: IndicatorCode | None = Field(default=None, description="Permanent: may only repeat it.")


class ValueFields(Body):
    kind: ValueKind | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    period_label: ShortText | None = None
    value: Number | None = None
    commune: Insee | None = None
    comment: LongText | None = None
    source: LongText | None = None
    source_excerpt: LongText | None = None


class ValueCreate(ValueFields):
    kind: ValueKind
    value: Number


class ValuePatch(ValueFields):
    pass


class BudgetFields(Body):
    planned: Euros | None = None
    actual: Euros | None = None
    comment: LongText | None = None
    source_excerpt: LongText | None = None


class BudgetCreate(BudgetFields):
    year: int = Field(ge=1900, le=2200)
    nature: BudgetNature


class BudgetPatch(BudgetFields):
    pass


class MilestoneFields(Body):
    date: dt.date | None = None
    date_precision: DatePrecision | None = None
    title: Title | None = None
    description: LongText | None = None
    status: ActionStatus | None = None
    reached: bool | None = None
    progress: Percent | None = None
    source_excerpt: LongText | None = None


class MilestoneCreate(MilestoneFields):
    position: int = Field(ge=1, le=10_000, description="Order in the timeline; part of the key.")
    date: dt.date
    title: Title


class MilestonePatch(MilestoneFields):
    pass


class IndicatorValueOut(ApiModel):
    id: int = Field(description="Permanent key of the value (the dataset's key).")
    indicator: str
    kind: ValueKind
    period_start: dt.date | None
    period_end: dt.date | None
    period_label: str | None
    value: float
    commune: str | None
    comment: str | None
    source: str | None
    source_excerpt: str | None


class BudgetLineRecord(ApiModel):
    key: str = Field(description="<action code>-<year>-<nature>, the dataset's key.")
    action: str
    year: int
    nature: BudgetNature
    planned: float | None
    actual: float | None
    comment: str | None
    source_excerpt: str | None


class MilestoneRecord(ApiModel):
    key: str = Field(description="<action code>-<position>, the dataset's key.")
    action: str
    position: int
    date: dt.date
    date_precision: DatePrecision | None
    title: str
    description: str | None
    status: ActionStatus | None
    reached: bool
    progress: float | None
    source_excerpt: str | None


class HistoryEntry(ApiModel):
    changed_at: dt.datetime
    operation: Literal["insert", "update", "delete"]
    status: ActionStatus | None = Field(description="The status after the change.")
    previous_status: ActionStatus | None
    progress: float | None = Field(description="The progress set after the change.")
    previous_progress: float | None


class ActionHistory(ApiModel):
    action: str
    changes: list[HistoryEntry] = Field(
        description="Changes of status or set progress, oldest first (since the audit log began)."
    )


class DeletionOut(ApiModel):
    id: int
    transaction_id: int = Field(description="The transaction, as the audit log names it.")
    deleted_at: dt.datetime
    actor: str | None = Field(description="key:<id> of the editor who deleted.")
    table: str = Field(description="The table of the record deleted.")
    record_key: str
    path: str = Field(description="The URL path the record had.")
    rows: int = Field(description="Rows removed with it (cascades included), all restorable.")
    restored_at: dt.datetime | None
    restored_by: str | None


class RestoreOut(ApiModel):
    deletion: DeletionOut
    rows: int = Field(description="Rows re-inserted.")


class KeyCreate(Body):
    name: Annotated[
        str, StringConstraints(min_length=1, max_length=200), AfterValidator(_printable)
    ]
    scopes: list[Scope] = Field(min_length=1, max_length=3)


class KeyOut(ApiModel):
    id: int
    name: str
    prefix: str = Field(description="First characters of the key, to recognise it.")
    scopes: list[Scope]
    created_by: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class NewKeyOut(KeyOut):
    secret: str = Field(description="The whole key, shown this once: store it now.")


class AuditActor(ApiModel):
    actor: str | None = Field(description="key:<id>, public, cli, or null (a migration, a load).")
    key_id: int | None
    key_name: str | None


class AuditEntry(ApiModel):
    id: int
    changed_at: dt.datetime
    transaction_id: int
    actor: AuditActor
    operation: Literal["insert", "update", "delete"]
    table: str
    record_key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
