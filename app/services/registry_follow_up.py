"""The published datasets of the plan's follow-up: indicators and their values, budget lines,
milestones."""

from app.models.follow_up import (
    INDICATOR_CODE_PATTERN,
    BudgetNature,
    Direction,
    Frequency,
    ValueKind,
)
from app.models.plan import ActionStatus, DatePrecision
from app.repositories import publication_rows as rows
from app.services.registry_spec import (
    GOVERNMENT,
    ID,
    INSEE,
    PLAN_KEYWORDS,
    REGIONS,
    UPDATED_AT,
    Column,
    DatasetSpec,
    plan_code_pattern,
)

FOLLOW_UP_DATASETS = (
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
                pattern=plan_code_pattern("action", 4),
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
                pattern=plan_code_pattern("action", 4),
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
)
