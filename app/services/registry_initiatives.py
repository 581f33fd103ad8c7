"""The published dataset of the initiatives (the geolocated proposals and projects on the map)."""

from app.models.initiative import LocationPrecision
from app.repositories import publication_rows as rows
from app.services.registry_spec import (
    GOVERNMENT,
    ID,
    INSEE,
    REGIONS,
    UPDATED_AT,
    Column,
    DatasetSpec,
    plan_code_pattern,
)

INITIATIVE_DATASETS = (
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
                pattern=plan_code_pattern("axe", 1),
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
)
