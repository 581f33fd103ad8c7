"""The explorer's words in French (first) and English, and the choice between them."""

from app.models.plan import ACTION_STATUS_LABELS_FR, ActionStatus

LANGUAGES = ("fr", "en")

STATUS_LABELS_EN: dict[ActionStatus, str] = {
    ActionStatus.planned: "Planned",
    ActionStatus.in_progress: "In progress",
    ActionStatus.done: "Done",
    ActionStatus.paused: "Paused",
    ActionStatus.abandoned: "Abandoned",
    ActionStatus.blocked: "Blocked",
    ActionStatus.late: "Late",
    ActionStatus.to_discuss: "To discuss",
}

TEXT: dict[str, tuple[str, str]] = {
    # key: (French, English)
    # French sets a no-break space before high punctuation and inside guillemets; English none.
    "colon": ("\u00a0:", ":"),
    "semicolon": ("\u00a0;", ";"),
    "quote_open": ("«\u00a0", "“"),
    "quote_close": ("\u00a0»", "”"),
    "explorer": ("Explorateur du projet de territoire", "Explorer of the territorial project"),
    "skip": ("Aller au contenu", "Skip to content"),
    "nav_home": ("Le plan", "The plan"),
    "nav_map": ("La carte", "The map"),
    "nav_search": ("Recherche", "Search"),
    "nav_api": ("L'API", "The API"),
    "language": ("Langue", "Language"),
    "summary": ("En bref", "At a glance"),
    "declared_published": ("Déclaré et publié", "Declared and published"),
    "level": ("Niveau", "Level"),
    "declared": ("Déclarés", "Declared"),
    "published": ("Publiés", "Published"),
    "axes": ("Axes", "Axes"),
    "ambitions": ("Ambitions", "Ambitions"),
    "objectives": ("Objectifs opérationnels", "Operational objectives"),
    "actions": ("Actions", "Actions"),
    "status_breakdown": ("Les actions par statut", "Actions by status"),
    "status": ("Statut", "Status"),
    "count": ("Nombre", "Count"),
    "unknown": ("Non renseigné", "Not stated"),
    "budget": ("Budget", "Budget"),
    "planned": ("Prévu", "Planned"),
    "actual": ("Réalisé", "Spent"),
    "investment": ("Investissement", "Investment"),
    "operating": ("Fonctionnement", "Operating"),
    "total": ("Total", "Total"),
    "lines": ("lignes budgétaires", "budget lines"),
    "progress": ("Avancement", "Progress"),
    "no_progress": ("pas de donnée", "no data"),
    "how_computed": ("Comment ce chiffre est calculé", "How this figure is computed"),
    "method": ("Méthode", "Method"),
    "formula": ("Formule publiée par l'API", "Formula the API publishes"),
    "milestone_used": ("Étape retenue", "Milestone used"),
    "children_counted": ("Éléments comptés", "Children counted"),
    "children_without_data": ("Sans donnée", "Without data"),
    "plan": ("Le plan", "The plan"),
    "communes": ("Communes", "Communes"),
    "population": ("Population", "Population"),
    "synthetic": (
        "Données fictives (tests et mesures), pas le plan d'un territoire réel.",
        "Made-up data (tests, benchmarks), not a real territory's plan.",
    ),
    "source": ("Source", "Source"),
    "licence": ("Licence", "Licence"),
    "lead": ("Pilote", "Lead"),
    "partners": ("Partenaires", "Partners"),
    "dates": ("Dates", "Dates"),
    "milestones": ("Étapes", "Milestones"),
    "no_milestones": ("Aucune étape publiée.", "No milestone published."),
    "reached": ("atteinte", "reached"),
    "ahead": ("à venir", "ahead"),
    "year": ("Année", "Year"),
    "nature": ("Nature", "Nature"),
    "no_budget": ("Aucune ligne budgétaire publiée.", "No budget line published."),
    "indicators": ("Indicateurs", "Indicators"),
    "no_indicators": ("Aucun indicateur.", "No indicator."),
    "chart_of": ("Graphique de", "Chart of"),
    "values_of": ("Valeurs de", "Values of"),
    "date": ("Date", "Date"),
    "kind": ("Type", "Kind"),
    "value": ("Valeur", "Value"),
    "result": ("résultat", "result"),
    "target": ("cible", "target"),
    "estimate": ("estimation", "estimate"),
    "no_values": ("Aucune valeur datée.", "No dated value."),
    "initiatives": ("Initiatives", "Initiatives"),
    "linked_initiatives": ("Initiatives liées", "Linked initiatives"),
    "no_initiatives": ("Aucune initiative publiée.", "No initiative published."),
    "supports": ("soutiens", "supports"),
    "support": ("Soutenir", "Support"),
    "supported": ("Merci, votre soutien est compté.", "Thank you, your support is counted."),
    "comments": ("Commentaires des membres", "Members' comments"),
    "no_comments": ("Aucun commentaire publié.", "No comment published."),
    "ratings": ("Pertinence selon les membres", "Relevance according to members"),
    "no_ratings": ("Aucune note.", "No rating."),
    "mean_rating": ("Note moyenne", "Mean rating"),
    "ratings_count": ("notes", "ratings"),
    "stars": ("étoiles", "stars"),
    "axis": ("Axe", "Axis"),
    "ambition": ("Ambition", "Ambition"),
    "objective": ("Objectif", "Objective"),
    "action": ("Action", "Action"),
    "commune": ("Commune", "Commune"),
    "commune_actions": ("Les actions qui la concernent", "The actions concerning it"),
    "no_actions": ("Aucune action.", "No action."),
    "map": ("Carte des initiatives et des communes", "Map of the initiatives and communes"),
    "map_help": (
        "Carte interactive : glisser pour déplacer, molette ou +/− pour zoomer. Touches fléchées "
        "au clavier. La liste des initiatives est sous la carte.",
        "Interactive map: drag to pan, wheel or +/− to zoom. Arrow keys with the keyboard. The "
        "list of initiatives is below the map.",
    ),
    "filters": ("Filtres", "Filters"),
    "all": ("Tous", "All"),
    "all_f": ("Toutes", "All"),
    "apply": ("Appliquer", "Apply"),
    "located_actions": ("Actions localisées", "Located actions"),
    "search": ("Rechercher", "Search"),
    "search_label": (
        "Rechercher dans le plan, les initiatives et les indicateurs",
        "Search the plan, the initiatives and the indicators",
    ),
    "search_results": ("Résultats", "Results"),
    "no_results": ("Aucun résultat.", "No result."),
    "propose": ("Proposer une initiative", "Propose an initiative"),
    "propose_help": (
        "Cliquez sur la carte (ou saisissez la longitude et la latitude) pour placer le point, "
        "puis décrivez votre proposition. Elle sera publiée après modération ; votre adresse "
        "électronique ne l'est jamais.",
        "Click on the map (or type the longitude and latitude) to place the point, then describe "
        "your proposal. It is published once moderated; your email address never is.",
    ),
    "title": ("Titre", "Title"),
    "description": ("Description", "Description"),
    "category": ("Thème (axe du plan)", "Theme (axis of the plan)"),
    "longitude": ("Longitude", "Longitude"),
    "latitude": ("Latitude", "Latitude"),
    "address": ("Adresse (facultatif)", "Address (optional)"),
    "author_name": ("Nom affiché (facultatif)", "Name shown (optional)"),
    "contact_email": ("Votre adresse électronique (privée)", "Your email address (private)"),
    "leave_empty": ("Laisser vide", "Leave empty"),
    "send": ("Envoyer la proposition", "Send the proposal"),
    "sent": (
        "Merci ! Votre proposition est enregistrée et attend la modération. Voici votre lien "
        "privé pour suivre son statut ; il n'est affiché qu'une fois, gardez-le :",
        "Thank you! Your proposal is recorded and awaits moderation. Here is your private link "
        "to follow its status; it is shown only once, keep it:",
    ),
    "errors": ("La proposition n'a pas été acceptée :", "The proposal was not accepted:"),
    "needs_js": (
        "La carte et le formulaire de proposition demandent JavaScript ; le reste de la page se "
        "lit sans.",
        "The map and the proposal form need JavaScript; the rest of the page reads without it.",
    ),
    "embed": ("Intégrer sur votre site", "Embed on your website"),
    "embed_help": (
        "Copiez l'un de ces extraits dans une page : un cadre (iframe) ou un composant web.",
        "Copy one of these snippets into a page: a frame (iframe) or a web component.",
    ),
    "embed_iframe": ("Cadre (iframe)", "Frame (iframe)"),
    "embed_component": ("Composant web", "Web component"),
    "widget_plan": ("L'avancement du plan", "The plan's progress"),
    "widget_map": ("Carte des initiatives", "Map of the initiatives"),
    "see_more": ("Voir le détail", "See the details"),
    "not_found": ("Page introuvable", "Page not found"),
    "bad_request": ("Adresse incorrecte", "Malformed address"),
    "bad_request_help": (
        "Cette adresse ne désigne aucune page : ce qu'il faut corriger est indiqué ci-dessous "
        "(en anglais, comme l'API le dit).",
        "This address names no page: what to fix is stated below, as the API states it.",
    ),
    "open_data": (
        "Données ouvertes, servies par l'API du projet de territoire.",
        "Open data, served by the territorial project's API.",
    ),
}


METHOD_TEXT: dict[str, tuple[str, str]] = {
    "set": ("Chiffre donné pour l'action.", "Figure given for the action."),
    "milestones": (
        "Chiffre de la dernière étape atteinte de l'action (aucun n'est donné pour l'action).",
        "Figure of the action's latest reached milestone (none is given for the action).",
    ),
    "weighted_mean": (
        "Moyenne pondérée de ses éléments qui ont un chiffre ; ceux sans chiffre sont écartés.",
        "Weighted mean of its children that have a figure; those without are left out.",
    ),
    "none": ("Aucun chiffre connu.", "No figure is known."),
}


def method_text(language: str, method: str) -> str:
    french, english = METHOD_TEXT[method]
    return english if language == "en" else french


def choose_language(query: str | None, accept_language: str | None) -> str:
    """`lang` in the query when valid; else the best of French or English the browser asks
    for; else French."""
    if query in LANGUAGES:
        return query
    best, best_quality = "fr", 0.0
    for part in (accept_language or "").split(","):
        tag, _, parameters = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        name, _, number = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(number)
            except ValueError:
                quality = 0.0
        # Earlier tags win ties: browsers list them in order of preference.
        if quality > best_quality:
            best, best_quality = primary, quality
    return best


def translate(language: str, key: str) -> str:
    french, english = TEXT[key]
    return english if language == "en" else french


def status_label(language: str, status: str | None) -> str:
    if status is None:
        return translate(language, "unknown")
    value = ActionStatus(status)
    return STATUS_LABELS_EN[value] if language == "en" else ACTION_STATUS_LABELS_FR[value]
