"""The published datasets of the territory and its plan: the territory, its communes, and the four
levels of the plan (axes, ambitions, objectives, actions)."""

from app.models.plan import ActionStatus, DatePrecision
from app.repositories import publication_rows as rows
from app.services.registry_spec import (
    GOVERNMENT,
    INSEE,
    PLAN_KEYWORDS,
    REGIONS,
    SIREN,
    UPDATED_AT,
    Column,
    DatasetSpec,
    node_code_columns,
    node_text_columns,
    parent_column,
)

PLAN_DATASETS = (
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
        columns=(*node_code_columns("axe", 1, "1"), *node_text_columns("axe")),
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
            *node_code_columns("ambition", 2, "1.2"),
            parent_column("axis", "axe", 1),
            *node_text_columns("ambition"),
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
            *node_code_columns("objectif", 3, "1.2.1"),
            parent_column("axis", "axe", 1),
            parent_column("ambition", "ambition", 2),
            *node_text_columns("objectif"),
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
            *node_code_columns("action", 4, "1.2.1.1"),
            parent_column("axis", "axe", 1),
            parent_column("ambition", "ambition", 2),
            parent_column("objective", "objectif", 3),
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
)
