"""Clients generated from the served contract, as a third-party developer makes them: the
Python one by openapi-python-client, the TypeScript one by openapi-typescript + openapi-fetch.
Both are generated without a warning, type-checked (mypy strict, tsc), and driven against the
service in a uvicorn process of its own on a database the test commits to; the contract's
answers are checked against its own schemas on every GET route; the examples of
docs/clients.md run as they are written."""

import asyncio
import importlib
import json
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import PROJECT_ROOT
from app.services import keys
from tests.committed import committed_database, committed_url
from tests.conftest import SmtpInbox, free_port, plain_url, start_uvicorn

CLIENTS_DATABASE_URL = committed_url("clients")
TOOLS = PROJECT_ROOT / "clients"
NODE_BIN = TOOLS / "node_modules" / ".bin"
PYTHON_CONFIG = TOOLS / "openapi-python-client.yaml"
DOCS = PROJECT_ROOT / "docs" / "clients.md"
PACKAGE = "territoire_client"
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
JSON_TYPES = re.compile(r"^application/([a-z.-]+\+)?json$")


@dataclass
class Live:
    url: str
    key: str  # editor, moderator and admin
    inbox: SmtpInbox
    contract: dict[str, Any]
    folder: Path
    samples: dict[str, Any] = field(default_factory=dict)


async def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Runs a command; its output (stdout and stderr together), asserting it succeeded."""
    process = await asyncio.create_subprocess_exec(
        *map(str, command),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode()
    assert process.returncode == 0, f"{command[0]} failed:\n{text}"
    return text


def operations(contract: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Controller, SmtpInbox]]:
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
async def live(
    smtp_server: tuple[Controller, SmtpInbox], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Live]:
    engine = await committed_database(CLIENTS_DATABASE_URL)
    async with engine.begin() as connection:
        key = await keys.create_key(
            AsyncSession(bind=connection), "client tests", ["editor", "moderator", "admin"], None
        )
    await engine.dispose()
    controller, inbox = smtp_server
    process, url = await start_uvicorn(
        CLIENTS_DATABASE_URL,
        environment={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "RESPONSE_CACHE": "false",
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            # Several clients propose from one address within a minute.
            "RATE_LIMIT_PROPOSALS": "60/minute",
        },
    )
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            contract = (await http.get("/openapi.json")).json()
        folder = tmp_path_factory.mktemp("clients")
        (folder / "openapi.json").write_text(json.dumps(contract))
        yield Live(url, key.secret, inbox, contract, folder)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)
        sys.modules.pop(PACKAGE, None)


# --- generation -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def python_client(live: Live) -> Any:
    """The generated package, imported; the generator's output is kept on `live`."""
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    output = await run(
        Path(sys.executable).parent / "openapi-python-client",
        "generate",
        "--path",
        "openapi.json",
        "--meta",
        "none",
        "--output-path",
        PACKAGE,
        "--config",
        PYTHON_CONFIG,
        cwd=live.folder,
        env=env,
    )
    live.samples["python_output"] = output
    (live.folder / "example.py").write_text(docs_example("python"))
    sys.path.insert(0, str(live.folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(live.folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
async def typescript_client(live: Live) -> Path:
    """A folder with the generated types, the driver and the example, type-checked and built."""
    assert (NODE_BIN / "tsc").exists(), "no clients/node_modules: ./scripts/test installs it"
    folder = live.folder / "ts"
    folder.mkdir()
    (folder / "node_modules").symlink_to(TOOLS / "node_modules")
    (folder / "package.json").write_text('{"type": "module", "private": true}')
    output = await run(
        NODE_BIN / "openapi-typescript", "../openapi.json", "-o", "territoire.d.ts", cwd=folder
    )
    live.samples["typescript_output"] = output
    shutil.copy(Path(__file__).parent / "clients" / "drive.ts", folder / "drive.ts")
    (folder / "example.ts").write_text(docs_example("typescript"))
    (folder / "reads.ts").write_text(typescript_reads(live))
    (folder / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "target": "es2022",
                    "module": "nodenext",
                    "moduleResolution": "nodenext",
                    "lib": ["es2022", "dom"],
                    "strict": True,
                    "noUncheckedIndexedAccess": True,
                    "exactOptionalPropertyTypes": False,
                    "skipLibCheck": False,
                    "outDir": "build",
                },
                "files": ["territoire.d.ts", "drive.ts", "example.ts", "reads.ts"],
            }
        )
    )
    live.samples["tsc"] = await run(NODE_BIN / "tsc", "--noEmit", "-p", ".", cwd=folder)
    await run(NODE_BIN / "tsc", "-p", ".", cwd=folder)
    return folder


def docs_example(language: str) -> str:
    """The code block that follows `<!-- example: language -->` in docs/clients.md."""
    found = re.search(
        rf"<!-- example: {language} -->\n```[a-z]+\n(.*?)\n```", DOCS.read_text(), re.S
    )
    assert found, f"docs/clients.md has no {language} example"
    return found.group(1) + "\n"


def generator_warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"warn|skipping|error|⚠", line, re.I)]


async def test_the_python_client_is_whole_and_type_checks(live: Live, python_client: Any) -> None:
    assert generator_warnings(live.samples["python_output"]) == []
    api = live.folder / PACKAGE / "api"
    modules = {path.stem for path in api.glob("*/*.py") if path.stem != "__init__"}
    contract_ids = {operation["operationId"] for _, _, operation in operations(live.contract)}
    assert modules == contract_ids
    for path in api.glob("*/*.py"):
        if path.stem != "__init__":
            importlib.import_module(f"{PACKAGE}.api.{path.parent.name}.{path.stem}")
    (live.folder / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nwarn_unreachable = True\n"
        # The generator's own client.py forwards *args to httpx's __exit__: a typing slip of
        # its template, not of the contract.
        f"[mypy-{PACKAGE}.client]\ndisable_error_code = arg-type\n"
    )
    checked = await run(
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        "mypy.ini",
        "--no-incremental",
        "--cache-dir",
        str(live.folder / ".mypy_cache"),
        PACKAGE,
        "example.py",
        cwd=live.folder,
    )
    assert "Success" in checked


async def test_the_typescript_client_is_whole_and_type_checks(
    live: Live, typescript_client: Path
) -> None:
    assert generator_warnings(live.samples["typescript_output"]) == []
    types = (typescript_client / "territoire.d.ts").read_text()
    for path, method, operation in operations(live.contract):
        assert re.search(rf"^    {re.escape(operation['operationId'])}: {{", types, re.M), path
        assert f'"{path}": {{' in types, path
        assert re.search(rf"{method}: operations\[\"{operation['operationId']}\"\]", types), path
    assert live.samples["tsc"].strip() == ""


# --- what the server answers ------------------------------------------------------------------


@pytest.fixture(scope="module")
async def samples(live: Live) -> dict[str, str]:
    """A real value for each path parameter, found on the live server."""
    found: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:

        async def get(path: str, **params: Any) -> Any:
            answer = await http.get(path, params=params)
            assert answer.status_code == 200, (path, answer.text)
            return answer.json()

        for level in ("axes", "ambitions", "objectives"):
            found[level] = (await get(f"/v1/{level}", limit=1))["items"][0]["code"]
        actions = (await get("/v1/actions", limit=1000))["items"]
        found["actions"] = actions[0]["code"]
        auth = {"Authorization": f"Bearer {live.key}"}
        code = found["actions"]
        # A budget line and a milestone of the editor's own, so that their routes have one.
        line = await http.post(
            f"/v1/actions/{code}/budget",
            json={"year": 2031, "nature": "investment", "planned": 1000},
            headers=auth,
        )
        assert line.status_code == 201, line.text
        found["line_key"] = line.json()["key"]
        milestone = await http.post(
            f"/v1/actions/{code}/milestones",
            json={"date": "2031-06-30", "title": "Premier jalon", "position": 90},
            headers=auth,
        )
        assert milestone.status_code == 201, milestone.text
        found["milestone_key"] = milestone.json()["key"]
        indicator = (await get("/v1/indicators", limit=1))["items"][0]["code"]
        found["indicator"] = indicator
        value = await http.post(
            f"/v1/indicators/{indicator}/values",
            json={"kind": "estimate", "value": 12.5, "period_start": "2031-01-01"},
            headers=auth,
        )
        assert value.status_code == 201, value.text
        found["value_id"] = str(value.json()["id"])
        found["insee"] = (await get("/v1/communes"))["features"][0]["id"]
        initiative = (await get("/v1/initiatives", limit=1))["features"][0]
        found["initiative_id"] = str(initiative["id"])
        found["lon"], found["lat"] = map(str, initiative["geometry"]["coordinates"])
        datasets = await get("/v1/datasets")
        found["dataset"] = datasets[0]["identifier"]
        found["geo_dataset"] = next(
            dataset["identifier"] for dataset in datasets if ".geojson" in json.dumps(dataset)
        )
        found["feature"] = str(
            (await get("/ogc/collections/initiatives/items", limit=1))["features"][0]["id"]
        )
        hook = await http.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"]},
            headers=auth,
        )
        assert hook.status_code == 201, hook.text
        found["subscription_id"] = str(hook.json()["id"])
        found["key_id"] = str((await http.get("/v1/keys", headers=auth)).json()[0]["id"])
    return found


async def wait_for_link(inbox: SmtpInbox, email_address: str) -> str:
    """The confirmation token emailed to `email_address`."""
    for _ in range(100):
        for message in inbox.messages:
            if message["To"] == email_address:
                body = message.get_body(preferencelist=("plain",))
                assert body is not None
                found = re.search(r"/v1/club/members/confirm/([A-Za-z0-9_-]+)", body.get_content())
                assert found, body.get_content()
                return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no confirmation email to {email_address}")


@pytest.fixture(scope="module")
async def tokens(live: Live, samples: dict[str, str]) -> dict[str, str]:
    """A proposal's status token, a member's token, an unused confirmation token and an
    unsubscribe token, for the GET routes that take them."""
    found: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        proposal = await http.post(
            "/v1/proposals",
            json={
                "title": "Des bancs sur la place",
                "description": "Pour s'asseoir à l'ombre.",
                "category": samples["axes"],
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(samples["lon"]), float(samples["lat"])],
                },
                "contact_email": "bancs@example.org",
            },
        )
        assert proposal.status_code == 201, proposal.text
        found["proposal"] = proposal.json()["status_token"]
        for email_address in ("routes@example.org", "unused@example.org"):
            joined = await http.post(
                "/v1/club/members",
                json={"display_name": "Routes", "email": email_address, "profile_type": "resident"},
            )
            assert joined.status_code == 202, joined.text
            found[email_address] = await wait_for_link(live.inbox, email_address)
        confirmed = await http.get(f"/v1/club/members/confirm/{found['routes@example.org']}")
        assert confirmed.status_code == 200, confirmed.text
        found["member"] = confirmed.json()["token"]
        found["member_id"] = str(confirmed.json()["member"]["id"])
    connection = await asyncpg.connect(plain_url(CLIENTS_DATABASE_URL))
    try:
        found["unsubscribe"] = await connection.fetchval(
            "SELECT unsubscribe_token FROM member WHERE id = $1", int(found["member_id"])
        )
    finally:
        await connection.close()
    return found


def path_values(path: str, samples: dict[str, str], tokens: dict[str, str]) -> dict[str, str]:
    """A real value for each parameter of `path`."""
    values: dict[str, str] = {}
    for name in re.findall(r"{(\w+)}", path):
        if name == "code":
            # /v1/<level>/{code}…, /v1/indicators/{code}…, /v1/club/actions/{code}…
            level = path.split("/")[3 if path.startswith("/v1/club/") else 2]
            values[name] = samples["indicator"] if level == "indicators" else samples[level]
        elif name == "token":
            values[name] = (
                tokens["proposal"]
                if "proposals" in path
                else tokens["unsubscribe"]
                if "unsubscribe" in path
                else tokens["unused@example.org"]
            )
        elif name == "collectionId":
            values[name] = "initiatives"
        elif name == "featureId":
            values[name] = samples["feature"]
        elif name in {"tileMatrix", "tileRow", "tileCol"}:
            values[name] = "0"
        elif name == "dataset" and path.endswith(".geojson"):
            values[name] = samples["geo_dataset"]
        elif name == "key":
            values[name] = samples["milestone_key"]
        elif name == "initiative_id" and "moderation" in path:
            values[name] = samples["initiative_id"]
        else:
            values[name] = samples[name]
    return values


def query_values(operation: dict[str, Any]) -> dict[str, str]:
    """A value for each required query parameter: the first example the contract gives."""
    values = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter.get("required"):
            examples = parameter["schema"].get("examples") or parameter.get("examples") or []
            assert examples, f"required query parameter {parameter['name']} with no example"
            values[parameter["name"]] = examples[0]
    return values


def validator(contract: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(
        {**schema, "components": contract["components"]}, format_checker=FormatChecker()
    )


def credentials(operation: dict[str, Any], live: Live, tokens: dict[str, str]) -> dict[str, str]:
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if "memberToken" in schemes:
        return {"Authorization": f"Bearer {tokens['member']}"}
    if "apiKey" in schemes:
        return {"Authorization": f"Bearer {live.key}"}
    return {}


async def test_every_get_route_answers_as_its_contract_says(
    live: Live, samples: dict[str, str], tokens: dict[str, str]
) -> None:
    problem = validator(live.contract, {"$ref": "#/components/schemas/Problem"})
    checked = []
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        for path, method, operation in operations(live.contract):
            if method != "get":
                continue
            url = path.format(**path_values(path, samples, tokens))
            if path == "/v1/club/unsubscribe/{token}":
                url = path.format(token=tokens["unsubscribe"])
            query = query_values(operation)
            answer = await http.get(url, params=query, headers=credentials(operation, live, tokens))
            where = f"GET {url}"
            assert answer.status_code == 200, (where, answer.text[:500])
            content = operation["responses"]["200"]["content"]
            media_type = answer.headers["content-type"].split(";")[0]
            declared = {name.split(";")[0] for name in content}
            assert media_type in declared, (where, media_type, declared)
            schema = next(
                (content[name].get("schema") for name in content if name.startswith(media_type)),
                None,
            )
            if JSON_TYPES.match(media_type) and schema:
                errors = [
                    e.message for e in validator(live.contract, schema).iter_errors(answer.json())
                ]
                assert errors == [], (where, errors[:5])
            checked.append(path)
            if "400" in operation["responses"]:
                wrong = await http.get(
                    url,
                    params={"no_such_parameter": "1"},
                    headers=credentials(operation, live, tokens),
                )
                assert wrong.status_code == 400, (where, wrong.text[:300])
                assert wrong.headers["content-type"] == "application/problem+json", where
                assert list(problem.iter_errors(wrong.json())) == [], where
    assert len(checked) == sum(1 for _, m, _ in operations(live.contract) if m == "get")


def answer_errors(
    contract: dict[str, Any], operation: dict[str, Any], answer: httpx.Response
) -> list[str]:
    """How a 200 JSON answer departs from the schema its operation declares for its media type."""
    assert answer.status_code == 200, (str(answer.url), answer.text[:500])
    media_type = answer.headers["content-type"].split(";")[0]
    content = operation["responses"]["200"]["content"]
    schema = next(
        (content[name].get("schema") for name in content if name.split(";")[0] == media_type),
        None,
    )
    assert JSON_TYPES.match(media_type), (str(answer.url), media_type)
    assert schema, (str(answer.url), media_type, "no schema declared")
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(contract, schema).iter_errors(answer.json())
    ]


async def test_every_ogc_answer_follows_its_declared_schema(live: Live) -> None:
    """The OGC routes build their answers as bytes: every collection, JSON and GeoJSON, each
    CRS, filtered pages and the pages their `next` links lead to, one feature of each."""
    paths = live.contract["paths"]
    collection_path = "/ogc/collections/{collectionId}"

    def operation(path: str) -> dict[str, Any]:
        found: dict[str, Any] = paths[path]["get"]
        return found

    checked: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:

        async def check(path: str, url: str, **params: Any) -> Any:
            answer = await http.get(url, params=params)
            assert answer_errors(live.contract, operation(path), answer) == [], (url, params)
            checked[path] = checked.get(path, 0) + 1
            return answer.json()

        for path in ("/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/api"):
            await check(path, path)
            if "f" in {p["name"] for p in operation(path).get("parameters", [])}:
                await check(path, path, f="json")
        collections = (await http.get("/ogc/collections")).json()["collections"]
        assert {c["id"] for c in collections} >= {"initiatives", "communes", "actions"}
        for collection in collections:
            url = f"/ogc/collections/{collection['id']}"
            described = await check(collection_path, url, f="json")
            assert "extent" in described, url  # the fixtures place features in each one
            await check(collection_path + "/queryables", url + "/queryables")
            items = collection_path + "/items"
            page = await check(items, url + "/items", limit=2)
            await check(items, url + "/items", f="json", limit=2)
            next_links = [link["href"] for link in page["links"] if link["rel"] == "next"]
            assert next_links, (url, "two features per page: the fixtures have more")
            following = await http.get(next_links[0])
            assert answer_errors(live.contract, operation(items), following) == [], next_links
            for crs in described["crs"]:
                await check(items, url + "/items", crs=crs, limit=3)
            await check(items, url + "/items", bbox="-180,-90,180,90", datetime="2000-01-01/..")
            await check(items, url + "/items", filter="1 = 0")  # an empty page
            await check(items, url + "/items", limit=10_000)  # the whole collection
            one = collection_path + "/items/{featureId}"
            feature_id = page["features"][0]["id"]
            for crs in described["crs"]:
                await check(one, f"{url}/items/{feature_id}", crs=crs)
            await check(one, f"{url}/items/{feature_id}", f="json")
            for path, html in ((items, url + "/items"), (one, f"{url}/items/{feature_id}")):
                page_html = await http.get(html, params={"f": "html"})
                assert page_html.headers["content-type"].startswith("text/html"), html
                content = operation(path)["responses"]["200"]["content"]
                assert content["text/html"]["schema"] == {"type": "string"}, path
    assert set(checked) == {p for p in paths if p.startswith("/ogc") and "/tiles/" not in p}


# --- the Python client against the server -----------------------------------------------------


def function(python_client: Any, contract: dict[str, Any], operation_id: str) -> Any:
    for _, _, operation in operations(contract):
        if operation["operationId"] == operation_id:
            tag = snake(operation["tags"][0])
            return importlib.import_module(f"{PACKAGE}.api.{tag}.{operation_id}")
    raise KeyError(operation_id)


async def test_the_python_client_reads_every_public_route_into_its_models(
    live: Live, python_client: Any, samples: dict[str, str], tokens: dict[str, str]
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    async with python_client.Client(base_url=live.url, timeout=httpx.Timeout(60)) as client:
        read = 0
        for path, method, operation in operations(live.contract):
            if method != "get" or operation.get("security"):
                continue
            kinds = {p["name"]: p["schema"].get("type") for p in operation.get("parameters", [])}
            arguments: dict[str, Any] = {
                snake(name): int(value) if kinds.get(name) == "integer" else value
                for name, value in path_values(path, samples, tokens).items()
            }
            arguments |= {snake(name): value for name, value in query_values(operation).items()}
            if path == "/v1/club/members/confirm/{token}":
                continue  # used once: driven in the writes below
            module = function(python_client, live.contract, operation["operationId"])
            answer = await module.asyncio_detailed(client=client, **arguments)
            where = f"{operation['operationId']} {arguments}"
            assert answer.status_code == 200, (where, answer.content[:300])
            parsed = answer.parsed
            assert parsed is not None, where
            assert not isinstance(parsed, models.Problem), where
            media_type = next(iter(operation["responses"]["200"]["content"]))
            schema = operation["responses"]["200"]["content"][media_type].get("schema", {})
            if "$ref" in schema:
                assert type(parsed).__name__ == re.sub(
                    r"[^A-Za-z0-9]", "", schema["$ref"].rsplit("/", 1)[1]
                ), where
                assert isinstance(parsed.to_dict(), dict), where
            elif schema.get("type") == "array" and "$ref" in schema.get("items", {}):
                assert all(hasattr(item, "to_dict") for item in parsed), where
            read += 1
        assert read > 40

        list_actions = function(python_client, live.contract, "list_actions")
        codes: list[str] = []
        cursor: Any = python_client.types.UNSET
        pages = 0
        while True:
            page = await list_actions.asyncio(client=client, limit=7, cursor=cursor)
            assert isinstance(page, models.PageActionOut)
            codes += [action.code for action in page.items]
            pages += 1
            if not page.next_cursor:
                break
            cursor = page.next_cursor
    async with httpx.AsyncClient(base_url=live.url) as http:
        whole = (await http.get("/v1/actions", params={"limit": 1000})).json()["items"]
    assert codes == [action["code"] for action in whole]
    assert pages == -(-len(whole) // 7)


async def test_the_python_client_writes(
    live: Live, python_client: Any, samples: dict[str, str]
) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")

    def call(operation_id: str) -> Any:
        return function(python_client, live.contract, operation_id)

    public = python_client.Client(base_url=live.url, timeout=httpx.Timeout(30))
    editor = python_client.AuthenticatedClient(
        base_url=live.url, token=live.key, timeout=httpx.Timeout(30)
    )
    async with public, editor:
        receipt = await call("submit_proposal").asyncio_detailed(
            client=public,
            body=models.ProposalIn(
                title="Un verger partagé",
                description="Des arbres fruitiers pour le quartier.",
                category=samples["axes"],
                geometry=models.PointGeometry(
                    type_="Point", coordinates=[float(samples["lon"]), float(samples["lat"])]
                ),
                contact_email="verger@example.org",
                author_name="Client Python",
            ),
        )
        assert receipt.status_code == 201, receipt.content
        assert isinstance(receipt.parsed, models.ProposalReceipt)
        status = await call("get_proposal_status").asyncio(
            client=public, token=receipt.parsed.status_token
        )
        assert status.status == models.InitiativeStatus.SUBMITTED

        supports = call("support_initiative")
        initiative = samples["initiative_id"]
        first = await supports.asyncio_detailed(
            initiative, client=public, body=models.SupportIn(supporter="python-client@example.org")
        )
        assert first.status_code == 201, first.content
        again = await supports.asyncio_detailed(
            initiative, client=public, body=models.SupportIn(supporter="python-client@example.org")
        )
        assert again.status_code == 200
        assert again.parsed.counted is False
        assert again.parsed.support_count == first.parsed.support_count

        joined = await call("join").asyncio_detailed(
            client=public,
            body=models.JoinIn(
                display_name="Client Python",
                email="python-client@example.org",
                profile_type=models.ProfileType.RESIDENT,
                commune=samples["insee"],
            ),
        )
        assert joined.status_code == 202, joined.content
        token = await wait_for_link(live.inbox, "python-client@example.org")
        confirmation = await call("confirm").asyncio(client=public, token=token)
        assert isinstance(confirmation, models.Confirmation)
        member = python_client.AuthenticatedClient(base_url=live.url, token=confirmation.token)
        async with member:
            me = await call("me").asyncio(client=member)
        assert isinstance(me, models.MemberOut)
        assert me.email == "python-client@example.org"

        code = samples["actions"]
        before = await call("get_action").asyncio_detailed(code, client=public)
        etag = before.headers["etag"]
        patched = await call("update_action").asyncio_detailed(
            code,
            client=editor,
            body=models.ActionPatch(status_excerpt="Mis à jour par un client généré"),
            if_match=etag,
        )
        assert patched.status_code == 200, patched.content
        assert isinstance(patched.parsed, models.ActionDetail)
        assert patched.parsed.status_excerpt == "Mis à jour par un client généré"
        assert patched.headers["etag"] != etag
        stale = await call("update_action").asyncio_detailed(
            code, client=editor, body=models.ActionPatch(lead="Personne"), if_match=etag
        )
        assert stale.status_code == 412
        assert isinstance(stale.parsed, models.Problem)

        line = await call("get_budget_line").asyncio_detailed(
            code, samples["line_key"], client=public
        )
        moved = await call("update_budget_line").asyncio_detailed(
            code,
            samples["line_key"],
            client=editor,
            body=models.BudgetPatch(actual=250.0),
            if_match=line.headers["etag"],
        )
        assert moved.status_code == 200, moved.content
        assert float(moved.parsed.actual) == 250.0


# --- the TypeScript client against the server -------------------------------------------------


def typescript_reads(live: Live) -> str:
    """A TypeScript module that reads every public GET route through openapi-fetch; its
    values come at run time, but each path and parameter name is type-checked by tsc."""
    calls = []
    for path, method, operation in operations(live.contract):
        if method != "get" or operation.get("security"):
            continue
        if path == "/v1/club/members/confirm/{token}":
            continue  # used once: driven by drive.ts
        names = re.findall(r"{(\w+)}", path)
        kinds = {p["name"]: p["schema"].get("type") for p in operation.get("parameters", [])}
        values = ", ".join(
            f"{name}: {'Number' if kinds.get(name) == 'integer' else 'String'}"
            f"(values[{json.dumps(path)}]![{json.dumps(name)}])"
            for name in names
        )
        media_type = next(iter(operation["responses"]["200"]["content"]))
        parse = (
            "json"
            if JSON_TYPES.match(media_type.split(";")[0])
            else "arrayBuffer"
            if "vector-tile" in media_type
            else "text"
        )
        query = ", ".join(f"{name}: {json.dumps(v)}" for name, v in query_values(operation).items())
        parts = ([f"path: {{ {values} }}"] if names else []) + (
            [f"query: {{ {query} }}"] if query else []
        )
        params = f"params: {{ {', '.join(parts)} }}, " if parts else ""
        calls.append(
            f"  answers.push(check({json.dumps(path)}, await client.GET({json.dumps(path)}, "
            f'{{ {params}parseAs: "{parse}" }})));'
        )
    return (
        'import createClient from "openapi-fetch";\n'
        'import type { paths } from "./territoire.js";\n\n'
        "type Answer = { data?: unknown; error?: unknown; response: Response };\n"
        "function check(path: string, answer: Answer): string {\n"
        "  if (answer.error !== undefined || answer.data === undefined) {\n"
        "    const why = JSON.stringify(answer.error);\n"
        "    throw new Error(`${path}: ${answer.response.status} ${why}`);\n"
        "  }\n"
        "  return path;\n"
        "}\n\n"
        "export async function readAll(\n"
        "  baseUrl: string,\n"
        "  values: Record<string, Record<string, string>>,\n"
        "): Promise<string[]> {\n"
        "  const client = createClient<paths>({ baseUrl });\n"
        "  const answers: string[] = [];\n" + "\n".join(calls) + "\n  return answers;\n}\n"
    )


async def test_the_typescript_client_drives_the_server(
    live: Live, typescript_client: Path, samples: dict[str, str], tokens: dict[str, str]
) -> None:
    values = {
        path: path_values(path, samples, tokens)
        for path, method, _ in operations(live.contract)
        if method == "get"
    }
    settings = {
        "baseUrl": live.url,
        "key": live.key,
        "values": values,
        "samples": samples,
        "email": "typescript-client@example.org",
    }
    joined = json.loads(
        await run("node", "build/drive.js", "join", json.dumps(settings), cwd=typescript_client)
    )
    assert joined["join"] == 202
    token = await wait_for_link(live.inbox, "typescript-client@example.org")
    settings["confirmation"] = token
    report = json.loads(
        await run("node", "build/drive.js", "all", json.dumps(settings), cwd=typescript_client)
    )
    public_reads = [
        path
        for path, method, operation in operations(live.contract)
        if method == "get"
        and not operation.get("security")
        and path != "/v1/club/members/confirm/{token}"
    ]
    assert report["reads"] == public_reads
    assert report["proposal"] == "submitted"
    assert report["support"] == [201, 200]
    assert report["me"] == "typescript-client@example.org"
    assert report["patch"] == [200, 412]
    async with httpx.AsyncClient(base_url=live.url) as http:
        whole = (await http.get("/v1/actions", params={"limit": 1000})).json()["items"]
    assert report["actions"] == [action["code"] for action in whole]


# --- the documentation's examples -------------------------------------------------------------


@pytest.fixture(scope="module")
async def late_action(live: Live, samples: dict[str, str]) -> str:
    """An action made late in a commune, for the examples to find."""
    code = await _first_other_action(live, samples["actions"])
    async with httpx.AsyncClient(base_url=live.url) as http:
        etag = (await http.get(f"/v1/actions/{code}")).headers["etag"]
        answer = await http.patch(
            f"/v1/actions/{code}",
            content=json.dumps({"status": "late", "communes": [samples["insee"]]}),
            headers={
                "Authorization": f"Bearer {live.key}",
                "If-Match": etag,
                "Content-Type": "application/merge-patch+json",
            },
        )
        assert answer.status_code == 200, answer.text
    return code


async def _first_other_action(live: Live, taken: str) -> str:
    async with httpx.AsyncClient(base_url=live.url) as http:
        items = (await http.get("/v1/actions", params={"limit": 2})).json()["items"]
    return next(item["code"] for item in items if item["code"] != taken)


async def test_the_python_example_runs(
    live: Live, python_client: Any, samples: dict[str, str], late_action: str
) -> None:
    output = await run(
        sys.executable,
        "example.py",
        cwd=live.folder,
        env={"TERRITOIRE_API": live.url, "COMMUNE": samples["insee"]},
    )
    assert late_action in output.split()


async def test_the_typescript_example_runs(
    live: Live, typescript_client: Path, samples: dict[str, str], late_action: str
) -> None:
    output = await run(
        "node",
        "build/example.js",
        cwd=typescript_client,
        env={"TERRITOIRE_API": live.url, "COMMUNE": samples["insee"]},
    )
    assert late_action in output.split()
