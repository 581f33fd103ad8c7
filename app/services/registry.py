"""The datasets the service publishes, declared once and used by the catalog (DCAT), the bulk
exports (CSV, JSON, GeoJSON and their TableSchema), the change feed and the search.

A dataset declares a permanent identifier, French titles, its columns (a TableSchema), the SQL
that yields its rows (in app/repositories), its public key, and its geometry if it has one. Its
rows must be the dataset's own fields plus permanent codes of what it links to: the change log
records a change of a row of the dataset's tables, nothing else, so a value derived from another
dataset (a count, a parent's title) would change without the feed saying so.

To publish another dataset: add its row source to app/repositories/publication.py, a
DatasetSpec below, and in a migration the row trigger
`record_change('<identifier>', '<key column>')` on each of its tables (see the publication
migration); a search source if its text is to be searched (app/services/search.py).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from app.models.follow_up import (
    INDICATOR_CODE_PATTERN,
    BudgetNature,
    Direction,
    Frequency,
    ValueKind,
)
from app.models.initiative import LocationPrecision
from app.models.plan import ActionStatus, DatePrecision
from app.repositories import publication as rows
from app.repositories.publication import ColumnType, OutputColumn, RowSource

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
Format = Literal["csv", "json", "geojson"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    title: str
    description: str
    required: bool = False
    unique: bool = False
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    example: str | None = None
    # A boundary is no spreadsheet cell: it goes to the JSON and GeoJSON files only.
    in_csv: bool = True


@dataclass(frozen=True)
class Theme:
    """A theme of the EU data-theme vocabulary, with its French label."""

    code: str
    label_fr: str

    @property
    def uri(self) -> str:
        return f"http://publications.europa.eu/resource/authority/data-theme/{self.code}"


GOVERNMENT = Theme("GOVE", "Gouvernement et secteur public")
REGIONS = Theme("REGI", "Régions et villes")


@dataclass(frozen=True)
class DatasetSpec:
    identifier: str  # permanent: URLs, dct:identifier, change feed; never reused
    title: str  # French; "{territory}" is replaced by the territory's name
    description: str  # French, same placeholder
    key: str  # the column holding the public key
    columns: tuple[Column, ...]
    rows: RowSource
    tables: tuple[str, ...]  # the tables whose changes the change log records for it
    keywords: tuple[str, ...] = ()
    themes: tuple[Theme, ...] = (GOVERNMENT,)
    geometry: str | None = None  # the geometry column of a geographic dataset (GeoJSON file)
    record_path: str | None = None  # API path of one record, "{key}" replaced

    @property
    def formats(self) -> tuple[Format, ...]:
        return ("csv", "json", "geojson") if self.geometry else ("csv", "json")

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)

    def csv_columns(self) -> list[OutputColumn]:
        return [OutputColumn(c.name, c.type) for c in self.columns if c.in_csv]

    def json_columns(self) -> list[OutputColumn]:
        return [OutputColumn(c.name, c.type) for c in self.columns]

    def property_columns(self) -> list[OutputColumn]:
        """The GeoJSON properties: every column but the geometry."""
        return [OutputColumn(c.name, c.type) for c in self.columns if c.name != self.geometry]


@dataclass
class Registry:
    datasets: list[DatasetSpec] = field(default_factory=list)

    def register(self, spec: DatasetSpec) -> None:
        if any(d.identifier == spec.identifier for d in self.datasets):
            raise ValueError(f"dataset {spec.identifier!r} is already registered")
        labels = [c.name for c in spec.rows().selected_columns if c.name != rows.ORDER]
        if labels != [c.name for c in spec.columns]:
            raise ValueError(f"{spec.identifier}: the row source yields {labels}")
        self.datasets.append(spec)

    def get(self, identifier: str) -> DatasetSpec | None:
        return next((d for d in self.datasets if d.identifier == identifier), None)

    def __iter__(self) -> Iterator[DatasetSpec]:
        return iter(sorted(self.datasets, key=lambda d: d.identifier))

    def identifiers(self) -> list[str]:
        return [d.identifier for d in self]


SIREN = r"^[0-9]{9}$"
INSEE = r"^([0-9]{2}|2A|2B)[0-9]{3}$"
ID = r"^[1-9][0-9]{0,18}$"


def _code(level: str, depth: int) -> str:
    return rf"^[1-9][0-9]{{0,5}}(\.[1-9][0-9]{{0,5}}){{{depth - 1}}}$"


UPDATED_AT = Column(
    "updated_at",
    "datetime",
    "Dernière modification",
    "Date et heure de la dernière modification de l'enregistrement (UTC, ISO 8601).",
    required=True,
)


def _node_columns(level: str, depth: int, example: str) -> tuple[Column, ...]:
    return (
        Column(
            "code",
            "string",
            "Code",
            f"Code public permanent de l'{level}, jamais réutilisé.",
            required=True,
            unique=True,
            pattern=_code(level, depth),
            example=example,
        ),
    )


def _node_text(level: str) -> tuple[Column, ...]:
    return (
        Column("title", "string", "Intitulé", f"Intitulé de l'{level}.", required=True),
        Column("description", "string", "Description", f"Description de l'{level}."),
        Column(
            "source_excerpt",
            "string",
            "Extrait de la source",
            "Passage du document source dont l'enregistrement est tiré.",
        ),
        UPDATED_AT,
    )


def _parent(name: str, level: str, depth: int) -> Column:
    return Column(
        f"{name}_code",
        "string",
        f"Code de l'{level}",
        f"Code de l'{level} auquel l'enregistrement se rattache.",
        required=True,
        pattern=_code(level, depth),
    )


PLAN_KEYWORDS = ("projet de territoire", "plan d'actions", "intercommunalité")

REGISTRY = Registry()
for _spec in (
    DatasetSpec(
        identifier="territory",
        title="Territoire publiant le projet de territoire — {territory}",
        description=(
            "L'intercommunalité qui publie son projet de territoire : SIREN, nom, coordonnées, "
            "licence des données, attribution et document source."
        ),
        key="siren",
        columns=(
            Column(
                "siren",
                "string",
                "SIREN",
                "Numéro SIREN de l'intercommunalité.",
                required=True,
                unique=True,
                pattern=SIREN,
                example="246200364",
            ),
            Column("name", "string", "Nom", "Nom de l'intercommunalité.", required=True),
            Column("short_name", "string", "Sigle", "Nom court ou sigle."),
            Column("kind", "string", "Nature juridique", "Nature de l'intercommunalité."),
            Column("website", "string", "Site web", "Adresse du site web."),
            Column("address", "string", "Adresse", "Adresse postale."),
            Column("phone", "string", "Téléphone", "Numéro de téléphone."),
            Column("licence_title", "string", "Licence", "Licence des données.", required=True),
            Column(
                "licence_url", "string", "URL de la licence", "Texte de la licence.", required=True
            ),
            Column(
                "attribution",
                "string",
                "Attribution",
                "Mention à reproduire lors de toute réutilisation.",
                required=True,
            ),
            Column(
                "source_title",
                "string",
                "Document source",
                "Titre du document dont le projet de territoire est tiré.",
                required=True,
            ),
            UPDATED_AT,
        ),
        rows=rows.territory_rows,
        tables=("territory",),
        keywords=("intercommunalité", "EPCI", "projet de territoire"),
        record_path="/v1/territory",
    ),
    DatasetSpec(
        identifier="communes",
        title="Communes membres — {territory}",
        description=(
            "Les communes membres de l'intercommunalité : code INSEE, nom, SIREN, population "
            "et limites communales (WGS84). Le fichier CSV donne un point situé dans chaque "
            "commune ; les limites sont dans les fichiers JSON et GeoJSON."
        ),
        key="insee",
        columns=(
            Column(
                "insee",
                "string",
                "Code INSEE",
                "Code officiel géographique de la commune (texte, 5 caractères).",
                required=True,
                unique=True,
                pattern=INSEE,
                example="62498",
            ),
            Column("name", "string", "Nom", "Nom de la commune.", required=True),
            Column("siren", "string", "SIREN", "Numéro SIREN de la commune.", pattern=SIREN),
            Column("population", "integer", "Population", "Population municipale.", minimum=0),
            Column(
                "longitude",
                "number",
                "Longitude",
                "Longitude d'un point situé dans la commune (WGS84, degrés décimaux).",
                required=True,
            ),
            Column(
                "latitude",
                "number",
                "Latitude",
                "Latitude d'un point situé dans la commune (WGS84, degrés décimaux).",
                required=True,
            ),
            UPDATED_AT,
            Column(
                "boundary",
                "geojson",
                "Limites",
                "Limites de la commune (MultiPolygon GeoJSON, WGS84).",
                required=True,
                in_csv=False,
            ),
        ),
        rows=rows.commune_rows,
        tables=("commune",),
        keywords=("communes", "limites communales", "intercommunalité"),
        themes=(REGIONS,),
        geometry="boundary",
        record_path="/v1/communes/{key}",
    ),
    DatasetSpec(
        identifier="axes",
        title="Axes du projet de territoire — {territory}",
        description="Les axes stratégiques du projet de territoire, premier niveau du plan.",
        key="code",
        columns=(*_node_columns("axe", 1, "1"), *_node_text("axe")),
        rows=rows.axis_rows,
        tables=("axis",),
        keywords=PLAN_KEYWORDS,
        themes=(GOVERNMENT, REGIONS),
        record_path="/v1/axes/{key}",
    ),
    DatasetSpec(
        identifier="ambitions",
        title="Ambitions du projet de territoire — {territory}",
        description="Les ambitions du projet de territoire, rattachées chacune à un axe.",
        key="code",
        columns=(
            *_node_columns("ambition", 2, "1.2"),
            _parent("axis", "axe", 1),
            *_node_text("ambition"),
        ),
        rows=rows.ambition_rows,
        tables=("ambition",),
        keywords=PLAN_KEYWORDS,
        themes=(GOVERNMENT, REGIONS),
        record_path="/v1/ambitions/{key}",
    ),
    DatasetSpec(
        identifier="objectives",
        title="Objectifs opérationnels du projet de territoire — {territory}",
        description=(
            "Les objectifs opérationnels du projet de territoire, rattachés chacun à une ambition."
        ),
        key="code",
        columns=(
            *_node_columns("objectif", 3, "1.2.1"),
            _parent("axis", "axe", 1),
            _parent("ambition", "ambition", 2),
            *_node_text("objectif"),
        ),
        rows=rows.objective_rows,
        tables=("objective",),
        keywords=PLAN_KEYWORDS,
        themes=(GOVERNMENT, REGIONS),
        record_path="/v1/objectives/{key}",
    ),
    DatasetSpec(
        identifier="actions",
        title="Actions du projet de territoire — {territory}",
        description=(
            "Les actions du projet de territoire : statut (compatible Territoires en "
            "Transitions), porteur, partenaires, communes concernées, dates et localisation."
        ),
        key="code",
        columns=(
            *_node_columns("action", 4, "1.2.1.1"),
            _parent("axis", "axe", 1),
            _parent("ambition", "ambition", 2),
            _parent("objective", "objectif", 3),
            Column("title", "string", "Intitulé", "Intitulé de l'action.", required=True),
            Column("description", "string", "Description", "Description de l'action."),
            Column(
                "status",
                "string",
                "Statut",
                "Statut de l'action (vide si la source ne le précise pas).",
                enum=tuple(s.value for s in ActionStatus),
            ),
            Column("status_label_fr", "string", "Libellé du statut", "Statut en français."),
            Column(
                "status_excerpt",
                "string",
                "Extrait du statut",
                "Passage de la source qui établit le statut.",
            ),
            Column("lead", "string", "Porteur", "Porteur de l'action."),
            Column(
                "partners",
                "array",
                "Partenaires",
                "Partenaires de l'action (tableau JSON de textes).",
                required=True,
            ),
            Column(
                "communes",
                "array",
                "Communes concernées",
                "Codes INSEE des communes concernées (tableau JSON de textes).",
                required=True,
            ),
            Column("start_date", "date", "Date de début", "Date de début (ISO 8601)."),
            Column(
                "start_date_precision",
                "string",
                "Précision de la date de début",
                "Partie connue de la date de début : jour, mois ou année.",
                enum=tuple(p.value for p in DatePrecision),
            ),
            Column("end_date", "date", "Date de fin", "Date de fin (ISO 8601)."),
            Column(
                "geometry",
                "geojson",
                "Localisation",
                "Localisation de l'action (géométrie GeoJSON, WGS84).",
            ),
            Column(
                "source_excerpt",
                "string",
                "Extrait de la source",
                "Passage du document source dont l'action est tirée.",
            ),
            UPDATED_AT,
        ),
        rows=rows.action_rows,
        tables=("action", "action_commune"),
        keywords=(*PLAN_KEYWORDS, "actions"),
        themes=(GOVERNMENT, REGIONS),
        record_path="/v1/actions/{key}",
    ),
    DatasetSpec(
        identifier="initiatives",
        title="Initiatives des habitants et acteurs locaux — {territory}",
        description=(
            "Les initiatives publiées (projets et propositions des habitants et des acteurs "
            "locaux) : intitulé, axe du projet de territoire, commune, actions liées, date de "
            "publication et localisation (WGS84). Les coordonnées de contact ne sont pas publiées."
        ),
        key="id",
        columns=(
            Column(
                "id",
                "string",
                "Identifiant",
                "Identifiant public permanent de l'initiative, jamais réutilisé.",
                required=True,
                unique=True,
                pattern=ID,
                example="1",
            ),
            Column("reference", "string", "Référence", "Référence de l'initiative à sa source."),
            Column("title", "string", "Intitulé", "Intitulé de l'initiative.", required=True),
            Column("description", "string", "Description", "Description de l'initiative."),
            Column(
                "category",
                "string",
                "Axe",
                "Code de l'axe du projet de territoire auquel l'initiative se rattache.",
                required=True,
                pattern=_code("axe", 1),
            ),
            Column(
                "commune_insee", "string", "Commune", "Code INSEE de la commune.", pattern=INSEE
            ),
            Column(
                "location_precision",
                "string",
                "Précision de la localisation",
                "Précision de la localisation : exacte, adresse ou commune.",
                required=True,
                enum=tuple(p.value for p in LocationPrecision),
            ),
            Column("address", "string", "Adresse", "Adresse, telle que donnée."),
            Column("author_name", "string", "Auteur", "Nom public de l'auteur."),
            Column(
                "support_count",
                "integer",
                "Soutiens",
                "Nombre de personnes qui soutiennent l'initiative.",
                required=True,
                minimum=0,
            ),
            Column(
                "actions",
                "array",
                "Actions liées",
                "Codes des actions du projet de territoire liées (tableau JSON de textes).",
                required=True,
            ),
            Column(
                "source_excerpt",
                "string",
                "Extrait de la source",
                "Passage du document source dont l'initiative est tirée.",
            ),
            Column(
                "published_at",
                "datetime",
                "Date de publication",
                "Date et heure de publication (UTC, ISO 8601).",
                required=True,
            ),
            UPDATED_AT,
            Column(
                "geometry",
                "geojson",
                "Localisation",
                "Localisation de l'initiative (géométrie GeoJSON, WGS84).",
                required=True,
                in_csv=False,
            ),
        ),
        rows=rows.initiative_rows,
        tables=("initiative", "initiative_action"),
        keywords=("initiatives", "participation citoyenne", "projet de territoire"),
        themes=(GOVERNMENT, REGIONS),
        geometry="geometry",
        record_path="/v1/initiatives/{key}",
    ),
    DatasetSpec(
        identifier="indicators",
        title="Indicateurs de suivi du projet de territoire — {territory}",
        description=(
            "Les indicateurs de suivi du projet de territoire : unité, sens de lecture, "
            "fréquence, source et méthode, et codes des ambitions, objectifs et actions mesurés."
        ),
        key="code",
        columns=(
            Column(
                "code",
                "string",
                "Code",
                "Code public permanent de l'indicateur, jamais réutilisé.",
                required=True,
                unique=True,
                pattern=INDICATOR_CODE_PATTERN,
            ),
            Column("name", "string", "Nom", "Nom de l'indicateur.", required=True),
            Column("description", "string", "Description", "Description de l'indicateur."),
            Column("unit", "string", "Unité", "Unité des valeurs.", required=True),
            Column(
                "direction",
                "string",
                "Sens",
                "Sens d'évolution souhaité (vide pour un indicateur de contexte).",
                enum=tuple(d.value for d in Direction),
            ),
            Column(
                "frequency",
                "string",
                "Fréquence",
                "Fréquence de mise à jour.",
                enum=tuple(f.value for f in Frequency),
            ),
            Column("source_producer", "string", "Producteur", "Producteur de la donnée."),
            Column("source_method", "string", "Méthode", "Méthode de calcul."),
            Column("source_limits", "string", "Limites", "Limites de l'indicateur."),
            Column("source_url", "string", "URL de la source", "Adresse de la source."),
            Column(
                "source_excerpt",
                "string",
                "Extrait de la source",
                "Passage du document source dont l'indicateur est tiré.",
            ),
            Column(
                "ambitions",
                "array",
                "Ambitions mesurées",
                "Codes des ambitions mesurées (tableau JSON de textes).",
                required=True,
            ),
            Column(
                "objectives",
                "array",
                "Objectifs mesurés",
                "Codes des objectifs opérationnels mesurés (tableau JSON de textes).",
                required=True,
            ),
            Column(
                "actions",
                "array",
                "Actions mesurées",
                "Codes des actions mesurées (tableau JSON de textes).",
                required=True,
            ),
            UPDATED_AT,
        ),
        rows=rows.indicator_rows,
        tables=("indicator", "indicator_ambition", "indicator_objective", "indicator_action"),
        keywords=(*PLAN_KEYWORDS, "indicateurs", "suivi", "évaluation"),
        themes=(GOVERNMENT, REGIONS),
        record_path="/v1/indicators/{key}",
    ),
    DatasetSpec(
        identifier="indicator_values",
        title="Valeurs des indicateurs de suivi — {territory}",
        description=(
            "Les valeurs des indicateurs de suivi du projet de territoire : résultats, cibles "
            "et estimations, par période et, le cas échéant, par commune."
        ),
        key="id",
        columns=(
            Column(
                "id",
                "string",
                "Identifiant",
                "Identifiant public permanent de la valeur, jamais réutilisé.",
                required=True,
                unique=True,
                pattern=ID,
                example="1",
            ),
            Column(
                "indicator_code",
                "string",
                "Code de l'indicateur",
                "Code de l'indicateur dont c'est une valeur.",
                required=True,
                pattern=INDICATOR_CODE_PATTERN,
            ),
            Column(
                "kind",
                "string",
                "Nature",
                "Nature de la valeur : résultat, cible ou estimation.",
                required=True,
                enum=tuple(k.value for k in ValueKind),
            ),
            Column("period_start", "date", "Début de période", "Date ou début de période."),
            Column("period_end", "date", "Fin de période", "Fin de période (vide : une date)."),
            Column("period_label", "string", "Période", "Libellé de la période."),
            Column(
                "value", "number", "Valeur", "Valeur, dans l'unité de l'indicateur.", required=True
            ),
            Column(
                "commune_insee", "string", "Commune", "Code INSEE de la commune.", pattern=INSEE
            ),
            Column("comment", "string", "Commentaire", "Commentaire."),
            Column("source", "string", "Source", "Source de la valeur."),
            Column(
                "source_excerpt",
                "string",
                "Extrait de la source",
                "Passage du document source dont la valeur est tirée.",
            ),
            UPDATED_AT,
        ),
        rows=rows.indicator_value_rows,
        tables=("indicator_value",),
        keywords=("indicateurs", "suivi", "évaluation"),
        themes=(GOVERNMENT, REGIONS),
    ),
    DatasetSpec(
        identifier="budget_lines",
        title="Lignes budgétaires des actions du projet de territoire — {territory}",
        description=(
            "Les montants prévus et réalisés des actions du projet de territoire, par année et "
            "par nature (investissement ou fonctionnement), en euros."
        ),
        key="line_key",
        columns=(
            Column(
                "line_key",
                "string",
                "Clé",
                "Clé publique de la ligne : code de l'action, année et nature.",
                required=True,
                unique=True,
                pattern=r"^[1-9][0-9.]*-[0-9]{4}-(investment|operating)$",
                example="1.2.1.1-2025-investment",
            ),
            Column(
                "action_code",
                "string",
                "Code de l'action",
                "Code de l'action dont c'est le budget.",
                required=True,
                pattern=_code("action", 4),
            ),
            Column("year", "integer", "Année", "Exercice budgétaire.", required=True),
            Column(
                "nature",
                "string",
                "Nature",
                "Nature de la dépense : investissement ou fonctionnement.",
                required=True,
                enum=tuple(n.value for n in BudgetNature),
            ),
            Column("planned", "number", "Prévu", "Montant prévu (euros).", minimum=0),
            Column("actual", "number", "Réalisé", "Montant réalisé (euros).", minimum=0),
            Column("comment", "string", "Commentaire", "Commentaire."),
            Column(
                "source_excerpt",
                "string",
                "Extrait de la source",
                "Passage du document source dont la ligne est tirée.",
            ),
            UPDATED_AT,
        ),
        rows=rows.budget_line_rows,
        tables=("budget_line",),
        keywords=(*PLAN_KEYWORDS, "budget"),
        themes=(GOVERNMENT, REGIONS),
    ),
    DatasetSpec(
        identifier="milestones",
        title="Jalons des actions du projet de territoire — {territory}",
        description=(
            "Les étapes du calendrier public des actions du projet de territoire : date, "
            "intitulé, statut pris par l'action, atteinte et avancement."
        ),
        key="milestone_key",
        columns=(
            Column(
                "milestone_key",
                "string",
                "Clé",
                "Clé publique du jalon : code de l'action et rang du jalon.",
                required=True,
                unique=True,
                pattern=r"^[1-9][0-9.]*-[1-9][0-9]*$",
                example="1.2.1.1-1",
            ),
            Column(
                "action_code",
                "string",
                "Code de l'action",
                "Code de l'action dont c'est un jalon.",
                required=True,
                pattern=_code("action", 4),
            ),
            Column("position", "integer", "Rang", "Rang du jalon.", required=True, minimum=1),
            Column("milestone_date", "date", "Date", "Date du jalon (ISO 8601).", required=True),
            Column(
                "date_precision",
                "string",
                "Précision de la date",
                "Partie connue de la date : jour, mois ou année.",
                enum=tuple(p.value for p in DatePrecision),
            ),
            Column("title", "string", "Intitulé", "Intitulé du jalon.", required=True),
            Column("description", "string", "Description", "Description du jalon."),
            Column(
                "status",
                "string",
                "Statut",
                "Statut que prend l'action à ce jalon.",
                enum=tuple(s.value for s in ActionStatus),
            ),
            Column("reached", "boolean", "Atteint", "Le jalon est-il atteint ?", required=True),
            Column("progress", "number", "Avancement", "Avancement de l'action (%).", minimum=0),
            Column(
                "source_excerpt",
                "string",
                "Extrait de la source",
                "Passage du document source dont le jalon est tiré.",
            ),
            UPDATED_AT,
        ),
        rows=rows.milestone_rows,
        tables=("milestone",),
        keywords=(*PLAN_KEYWORDS, "calendrier"),
        themes=(GOVERNMENT, REGIONS),
    ),
):
    REGISTRY.register(_spec)
