"""The explorer's pages as the server sends them (what a browser without JavaScript reads): their
text, language, content negotiation at `/`, caching headers, and escaping."""

import html
import re
from types import SimpleNamespace

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.plan import ACTION_STATUS_LABELS_FR, ActionStatus
from app.routers import explorer
from app.services import keys
from app.services.explorer_text import STATUS_LABELS_EN, TEXT, translate
from tests.conftest import PROJECT_ROOT


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags out, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


async def test_the_home_page_shows_the_summary_and_the_whole_plan(
    client: httpx.AsyncClient,
) -> None:
    territory = (await client.get("/v1/territory")).json()
    tree = (await client.get("/v1/plan")).json()
    response = await client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == "fr"
    assert "Accept-Language" in response.headers["vary"]
    assert response.headers["etag"]
    page = response.text
    shown = text_of(page)
    assert '<html lang="fr">' in page
    assert territory["name"] in shown
    counts = territory["plan_counts"]
    assert f"Actions {counts['actions']['declared']} {counts['actions']['loaded']}" in shown
    for entry in territory["action_status_breakdown"]:
        assert f"{entry['label_fr']} {entry['count']}" in shown
    codes = []
    for axis in tree["axes"]:
        assert axis["title"] in shown
        assert axis["progress"]["formula"] in shown  # how each figure was computed
        for ambition in axis["ambitions"]:
            for objective in ambition["objectives"]:
                codes += [action["code"] for action in objective["actions"]]
    assert codes
    assert re.findall(r'href="/action/([0-9.]+)"', page) == codes
    assert "<territoire-plan></territoire-plan>" in html.unescape(page)  # the snippet


async def test_english_when_the_browser_asks_french_otherwise(client: httpx.AsyncClient) -> None:
    cases = {
        "en-GB,en;q=0.9,fr;q=0.5": "en",
        "fr-FR,fr;q=0.9,en;q=0.8": "fr",
        "de-DE,en;q=0.5": "en",
        "de-DE": "fr",
        "": "fr",
    }
    for header, language in cases.items():
        response = await client.get("/", headers={"Accept-Language": header})
        assert response.headers["content-language"] == language, header
        assert f'<html lang="{language}">' in response.text
    english = await client.get("/?lang=en", headers={"Accept-Language": "fr"})
    assert "The plan" in english.text
    assert "Avancement" not in text_of(english.text)


async def test_json_clients_asking_the_root_get_links_not_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    rels = {link["rel"]: link["href"] for link in response.json()["links"]}
    assert rels["service-desc"] == "/openapi.json"
    assert rels["alternate"] == "/"
    for accept, json_wanted in (
        ("application/json, text/html;q=0.5", True),
        ("text/html, application/json;q=0.9", False),
        ("application/geo+json", True),
        ("*/*", False),
        ("application/json;q=0.5, */*;q=0.8", False),
    ):
        answer = await client.get("/", headers={"Accept": accept})
        assert answer.headers["content-type"].startswith(
            "application/json" if json_wanted else "text/html"
        ), accept
    for path in ("/docs", "/redoc"):
        assert (await client.get(path)).headers["content-type"].startswith("text/html")
    schema = (await client.get("/openapi.json")).json()
    explorer = ("/", "/map", "/search", "/action/", "/commune/", "/widgets/", "/assets/")
    assert not [p for p in schema["paths"] if p == "/" or p.startswith(explorer[1:])]


async def test_an_action_page_has_its_timeline_budget_indicators_and_tables(
    client: httpx.AsyncClient,
) -> None:
    actions = (await client.get("/v1/actions?limit=200")).json()["items"]
    shown_any_chart = False
    for item in actions:
        action = (await client.get(f"/v1/actions/{item['code']}")).json()
        if not (action["milestones"] or action["indicators"] or action["budget_lines"]):
            continue
        response = await client.get(f"/action/{item['code']}")
        assert response.status_code == 200
        page = response.text
        shown = text_of(page)
        assert action["title"] in shown
        assert action["axis"]["title"] in shown
        for milestone in action["milestones"]:
            assert milestone["title"] in shown
            assert milestone["date"] in shown
        for line in action["budget_lines"]:
            assert str(line["year"]) in shown
        # One figure per indicator, and a table of its values beside every chart.
        assert page.count('<figure class="chart"') == len(action["indicators"])
        assert page.count('<table class="values">') == len(action["indicators"])
        for indicator in action["indicators"]:
            assert indicator["name"] in shown
            values = (await client.get(f"/v1/indicators/{indicator['code']}/values")).json()
            for value in values["items"]:
                if value["commune"] is None:
                    assert str(value["value"]) in shown
            shown_any_chart |= bool(values["items"])
        assert f'code="{item["code"]}"' in html.unescape(page)  # the component snippet
    assert shown_any_chart


async def test_a_commune_page_lists_its_actions_and_initiatives(client: httpx.AsyncClient) -> None:
    initiative = (await client.get("/v1/initiatives?limit=1")).json()["features"][0]
    insee = initiative["properties"]["commune"]
    commune = (await client.get(f"/v1/communes/{insee}")).json()["properties"]
    actions = (await client.get(f"/v1/actions?commune={insee}&limit=200")).json()["items"]
    response = await client.get(f"/commune/{insee}")
    assert response.status_code == 200
    shown = text_of(response.text)
    assert commune["name"] in shown
    assert initiative["properties"]["title"] in shown
    assert re.findall(r'href="/action/([0-9.]+)"', response.text) == [a["code"] for a in actions]


async def test_unknown_records_are_404_pages_and_malformed_codes_problems(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/action/9.9.9.9", headers={"Accept-Language": "en"})
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert "9.9.9.9" in missing.text
    assert (await client.get("/commune/99999")).status_code == 404
    malformed = await client.get("/action/not-a-code")
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


async def test_malformed_addresses_are_400_pages_for_browsers_problems_for_the_others(
    client: httpx.AsyncClient,
) -> None:
    for path, name in (
        ("/action/not-a-code", "code"),
        ("/action/1.2.3", "code"),
        ("/commune/6249", "insee"),
        ("/map?axis=0", "axis"),
        ("/map?commune=xx&lang=en", "commune"),
        ("/map?status=nonsense", "status"),
        ("/search?q=%00", "q"),
        ("/widgets/action/x", "code"),
        ("/widgets/commune/2a001", "insee"),
        ("/widgets/map?axis=abc", "axis"),
    ):
        page = await client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 400, path
        assert page.headers["content-type"].startswith("text/html"), path
        language = "en" if "lang=en" in path else "fr"
        assert f'<html lang="{language}">' in page.text, path
        assert ("Malformed address" if language == "en" else "Adresse incorrecte") in page.text
        api = await client.get(path, headers={"Accept": "application/json"})
        assert api.status_code == 400, path
        assert api.headers["content-type"] == "application/problem+json", path
        assert [e["name"] for e in api.json()["errors"]] == [name], path
        # The page says what the problem says.
        for error in api.json()["errors"]:
            assert f"{error['name']}: {error['reason']}" in text_of(page.text).replace(" :", ":")
        anything = await client.get(path, headers={"Accept": "*/*"})
        assert anything.headers["content-type"] == "application/problem+json", path
    # The API's own routes are left as they were.
    api_route = await client.get("/v1/actions/not-a-code", headers={"Accept": BROWSER_ACCEPT})
    assert api_route.status_code == 400
    assert api_route.headers["content-type"] == "application/problem+json"


async def test_the_map_page_lists_the_initiatives_its_filters_keep(
    client: httpx.AsyncClient,
) -> None:
    everything = (await client.get("/v1/initiatives?limit=1000")).json()["features"]
    page = (await client.get("/map")).text
    assert sorted(re.findall(r'id="initiative-(\d+)"', page)) == sorted(
        str(f["id"]) for f in everything
    )
    category = everything[0]["properties"]["category"]
    kept = [str(f["id"]) for f in everything if f["properties"]["category"] == category]
    filtered = (await client.get(f"/map?axis={category}")).text
    assert sorted(re.findall(r'id="initiative-(\d+)"', filtered)) == sorted(kept)
    assert f'data-axis="{category}"' in filtered
    assert (await client.get("/map?axis=x")).status_code in (400, 422)


async def test_the_search_page_shows_what_v1_search_finds(client: httpx.AsyncClient) -> None:
    api = (await client.get("/v1/search?q=emploi&limit=50")).json()["items"]
    assert api
    page = (await client.get("/search?q=emploi")).text
    assert "<mark>" in page
    for hit in api:
        # The API's <mark>ed fragments (quotes may be escaped as entities in the page).
        assert html.unescape(hit["highlights"]["title"]) in html.unescape(page)
    refused = await client.get("/search?q=le")
    assert refused.status_code == 200
    assert 'role="alert"' in refused.text
    assert "stop words" in refused.text


async def test_published_text_is_escaped(client: httpx.AsyncClient, session: AsyncSession) -> None:
    editor = await keys.create_key(session, "explorer escaping", ["editor"], None)
    initiative = (await client.get("/v1/initiatives?limit=1")).json()["features"][0]
    created = await client.post(
        "/v1/initiatives",
        headers={"Authorization": f"Bearer {editor.secret}"},
        json={
            "title": '<script>alert("x")</script> & co',
            "description": "<img src=x onerror=alert(1)>",
            "category": initiative["properties"]["category"],
            "geometry": initiative["geometry"],
        },
    )
    assert created.status_code == 201, created.text
    page = (await client.get("/map")).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in page


async def test_widgets_are_pages_with_etags_and_the_component_script_is_open_to_all(
    client: httpx.AsyncClient,
) -> None:
    action = (await client.get("/v1/actions?limit=1")).json()["items"][0]
    commune = (await client.get("/v1/communes")).json()["features"][0]["properties"]
    for path in (
        "/widgets/plan",
        f"/widgets/action/{action['code']}",
        f"/widgets/commune/{commune['insee']}",
        "/widgets/map",
        "/assets/explorer/widgets.js",
    ):
        response = await client.get(path, headers={"Origin": "https://commune.example"})
        assert response.status_code == 200, path
        assert response.headers["access-control-allow-origin"] == "*"
        again = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304, path
    card = (await client.get(f"/widgets/action/{action['code']}")).text
    assert action["title"] in text_of(card)


async def test_the_map_page_lists_the_actions_its_filters_keep(client: httpx.AsyncClient) -> None:
    actions = (await client.get("/v1/actions?limit=200")).json()["items"]
    status = next(a["status"] for a in actions if a["status"])
    axis = actions[-1]["axis_code"]
    for query, kept in (
        (f"status={status}", [a["code"] for a in actions if a["status"] == status]),
        (f"axis={axis}", [a["code"] for a in actions if a["axis_code"] == axis]),
        (
            f"axis={axis}&status={status}",
            [a["code"] for a in actions if a["axis_code"] == axis and a["status"] == status],
        ),
    ):
        page = (await client.get(f"/map?{query}")).text
        section = page.split('id="actions-title"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'href="/action/([0-9.]+)"', section) == kept, query
    assert (await client.get("/map?status=nonsense")).status_code in (400, 422)


async def test_an_action_page_shows_the_members_comments_and_ratings(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    code = (await client.get("/v1/actions?limit=1")).json()["items"][0]["code"]
    members = []
    for name, relevance in (("Camille <b>D.</b>", 4), ("Sami", 5)):
        member = await session.scalar(
            text(
                "INSERT INTO member (display_name, email, profile_type, status, "
                "digest_cursor_transaction, digest_cursor_sequence) "
                "VALUES (:name, :email, 'resident', 'active', 0, 0) RETURNING id"
            ),
            {"name": name, "email": f"{relevance}@example.org"},
        )
        await session.execute(
            text(
                "INSERT INTO action_rating (action_code, member_id, relevance) VALUES (:c, :m, :r)"
            ),
            {"c": code, "m": member, "r": relevance},
        )
        members.append(member)
    comment = await session.scalar(
        text(
            "INSERT INTO action_comment (action_code, member_id, body, status, published_at) "
            "VALUES (:c, :m, 'Enfin une ligne le dimanche !', 'published', now()) RETURNING id"
        ),
        {"c": code, "m": members[0]},
    )
    await session.execute(
        text(
            "INSERT INTO action_comment (action_code, member_id, parent_id, body, status, "
            "published_at) VALUES (:c, :m, :p, 'Oui, et le soir ?', 'published', now()), "
            "(:c, :m, NULL, 'Pas encore modéré', 'submitted', NULL)"
        ),
        {"c": code, "m": members[1], "p": comment},
    )
    summary = (await client.get(f"/v1/club/actions/{code}/ratings")).json()
    page = (await client.get(f"/action/{code}")).text
    shown = text_of(page)
    assert f"{summary['mean_relevance']} / 5 ({summary['ratings']} notes)" in shown
    assert "Enfin une ligne le dimanche !" in shown
    assert "Oui, et le soir ?" in shown
    assert "Pas encore modéré" not in shown
    assert "Camille &lt;b&gt;D.&lt;/b&gt;" in page


async def test_english_pages_put_no_space_before_colons_french_ones_a_no_break_space(
    client: httpx.AsyncClient,
) -> None:
    action = (await client.get("/v1/actions?limit=1")).json()["items"][0]
    commune = (await client.get("/v1/communes")).json()["features"][0]["properties"]["insee"]
    labels = [english for _, english in TEXT.values()]
    for path in (
        "/",
        f"/action/{action['code']}",
        f"/commune/{commune}",
        "/map",
        "/search?q=emploi",
        "/widgets/plan",
        f"/widgets/action/{action['code']}",
    ):
        # The markup itself (text_of would put a space where a tag ends).
        shown = html.unescape((await client.get(path, headers={"Accept-Language": "en"})).text)
        spaced = [label for label in labels if f"{label} :" in shown or f"{label} ;" in shown]
        assert spaced == [], path
    english = text_of((await client.get(f"/action/{action['code']}?lang=en")).text)
    assert f"Status: {STATUS_LABELS_EN[ActionStatus(action['status'])]}" in english
    assert "Search: “emploi”" in text_of((await client.get("/search?q=emploi&lang=en")).text)
    french = (await client.get(f"/action/{action['code']}")).text
    assert f"Statut\u00a0: {ACTION_STATUS_LABELS_FR[ActionStatus(action['status'])]}" in french
    assert "Recherche\u00a0: «\u00a0emploi\u00a0»" in (await client.get("/search?q=emploi")).text


def test_search_fragments_keep_only_their_marks_whatever_they_hold() -> None:
    hit = SimpleNamespace(
        dataset="actions",
        url=None,
        highlights={
            "title": "<img src=x onerror=alert(1)> <mark>emploi</mark> &amp; co",
            "description": '<script>alert("x")</script><mark>emploi</mark>',
        },
    )
    page = explorer.templates.get_template("search.html").render(
        lang="fr",
        t=lambda key: translate("fr", key),
        root="",
        assets="/assets/explorer",
        path="/search",
        q="emploi",
        hits=[(hit, "/action/1.1.1.1")],
        problem=None,
    )
    assert "<img" not in page
    assert "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; <mark>emploi</mark> &amp; co" in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;<mark>emploi</mark>" in page


async def test_widgets_may_be_framed_anywhere_the_other_pages_only_by_the_service(
    client: httpx.AsyncClient,
) -> None:
    action = (await client.get("/v1/actions?limit=1")).json()["items"][0]["code"]
    for path in ("/", f"/action/{action}", "/map", "/search?q=emploi", "/action/9.9.9.9"):
        response = await client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert response.headers["x-frame-options"] == "SAMEORIGIN", path
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'self'" in policy, path
        assert "script-src 'self';" in policy, path  # no inline script anywhere
        assert response.headers["x-content-type-options"] == "nosniff", path
    for path in (
        "/widgets/plan",
        f"/widgets/action/{action}",
        "/widgets/map",
        "/widgets/map?axis=x",
    ):
        response = await client.get(path, headers={"Accept": BROWSER_ACCEPT})
        assert "x-frame-options" not in response.headers, path
        assert "frame-ancestors *" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
    # The templates carry no inline script the policy would block.
    for template in (PROJECT_ROOT / "app" / "templates" / "explorer").glob("*.html"):
        assert not re.search(r"<script(?![^>]*\bsrc=)", template.read_text()), template.name
        assert not re.search(r"\son[a-z]+=", template.read_text()), template.name


async def test_a_chart_shows_the_territory_series_however_many_commune_values_come_first(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    indicators = (await client.get("/v1/indicators?limit=50")).json()["items"]
    code, action = next(
        (item["code"], actions[0])
        for item in indicators
        if (actions := item["measures"]["actions"])
    )
    insee = (await client.get("/v1/communes")).json()["features"][0]["properties"]["insee"]
    # More values of one commune than a chart holds, all older than a territory's value.
    await session.execute(
        text(
            "INSERT INTO indicator_value (indicator_id, kind, period_start, value, commune_insee) "
            "SELECT i.id, 'result', DATE '1900-01-01' + n, n, :insee "
            "FROM indicator i, generate_series(1, 600) AS n WHERE i.code = :code "
            "UNION ALL SELECT i.id, 'target', DATE '2099-12-31', 7, NULL "
            "FROM indicator i WHERE i.code = :code"
        ),
        {"insee": insee, "code": code},
    )
    series = (await client.get(f"/v1/indicators/{code}/values?limit=1000")).json()["items"]
    territory = [v for v in series if v["commune"] is None]
    assert territory
    page = (await client.get(f"/action/{action}")).text
    figure = page.split(f'id="indicator-{code}"', 1)[1].split("</figure>", 1)[0]
    rows = figure.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")
    assert rows == len(territory)


EXPLORER_CODE = [
    PROJECT_ROOT / "app" / "routers" / "explorer.py",
    PROJECT_ROOT / "app" / "services" / "explorer.py",
    PROJECT_ROOT / "app" / "services" / "explorer_text.py",
    *(PROJECT_ROOT / "app" / "static" / "explorer").iterdir(),
    *(PROJECT_ROOT / "app" / "templates" / "explorer").iterdir(),
]


async def test_the_explorer_names_no_place_of_the_loaded_territory(
    client: httpx.AsyncClient,
) -> None:
    territory = (await client.get("/v1/territory")).json()
    communes = [f["properties"] for f in (await client.get("/v1/communes")).json()["features"]]
    words = [territory["name"], territory["siren"], territory.get("short_name") or ""]
    for commune in communes:
        words += [commune["name"], commune["insee"], commune.get("siren") or ""]
    patterns = [re.compile(rf"(?<!\w){re.escape(word)}(?!\w)") for word in words if word]
    # A longitude, latitude pair written as numbers: the map's view must come from the data.
    pair = re.compile(r"\[\s*-?\d+\.\d+\s*,\s*-?\d+\.\d+\s*\]")
    found = []
    for path in EXPLORER_CODE:
        source = path.read_text()
        found += [f"{path.name}: {p.pattern}" for p in patterns if p.search(source)]
        found += [f"{path.name}: {m.group()}" for m in pair.finditer(source)]
    assert found == []
