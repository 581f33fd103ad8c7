"""The DCAT catalog (DCAT-AP 3.0.1) of the published datasets and of the API itself.

Built as an rdflib graph and serialized by rdflib as JSON-LD, Turtle or RDF/XML. What
data.gouv.fr's DCAT harvester reads shaped it: it guesses the catalog's format from the URL's
extension, follows Hydra paging (hydra:PartialCollectionView + hydra:next), keys each dataset on
dct:identifier, takes a file from dcat:downloadURL, its size from dcat:byteSize, its checksum
from spdx:checksum (md5, sha1 or sha256: SHA-1 here, the one algorithm DCAT-AP 2.1.1 admits),
its format from dct:format and dcat:mediaType, its schema from dct:conformsTo, the spatial
coverage from a locn:geometry literal typed GeoJSON, and imports the dcat:DataService
(endpointURL, endpointDescription) as an API.

Every node has an IRI or a blank node id derived from what it describes, so that the same data
serializes to the same bytes in every worker (the ETag of the catalog depends on it).
"""

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Literal as TypingLiteral

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidParameterError, NotFoundError
from app.models.territory import Territory
from app.repositories import publication as repository
from app.repositories import territory as territory_repository
from app.services.exports import Figures, FiguresCache, figures
from app.services.registry import REGISTRY
from app.services.registry_spec import DatasetSpec, Format, Theme

ADMS = Namespace("http://www.w3.org/ns/adms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
EU = "http://publications.europa.eu/resource/authority/"
FRENCH = URIRef(EU + "language/FRA")
IRREGULAR = URIRef(EU + "frequency/IRREG")
PUBLIC_ACCESS = URIRef(EU + "access-right/PUBLIC")
DATA_THEMES = URIRef(EU + "data-theme")
LOCAL_AUTHORITY = URIRef("http://purl.org/adms/publishertype/LocalAuthority")
# The datatype data.gouv.fr reads a GeoJSON spatial coverage from.
GEOJSON_LITERAL = URIRef("https://www.iana.org/assignments/media-types/application/vnd.geo+json")
IANA = "https://www.iana.org/assignments/media-types/"
GEOJSON_STANDARD = URIRef("https://www.rfc-editor.org/rfc/rfc7946")
BOUNDARY_TOLERANCE = 0.0005  # degrees (about 50 m): enough for a coverage, far smaller

RdfFormat = TypingLiteral["jsonld", "ttl", "rdf"]
RDF_MEDIA_TYPES: dict[str, str] = {
    "jsonld": "application/ld+json",
    "ttl": "text/turtle; charset=utf-8",
    "rdf": "application/rdf+xml",
}


@dataclass(frozen=True)
class FileFormat:
    extension: str
    label: str
    eu_file_type: str
    iana: str


FILE_FORMATS: dict[str, FileFormat] = {
    "csv": FileFormat("csv", "CSV", "CSV", "text/csv"),
    "json": FileFormat("json", "JSON", "JSON", "application/json"),
    "geojson": FileFormat("geojson", "GeoJSON", "GEOJSON", "application/geo+json"),
}

JSONLD_CONTEXT = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "foaf": str(FOAF),
    "vcard": str(VCARD),
    "spdx": str(SPDX),
    "hydra": str(HYDRA),
    "locn": str(LOCN),
    "adms": str(ADMS),
    "skos": str(SKOS),
    "xsd": str(XSD),
}


@dataclass(frozen=True)
class Urls:
    base: str  # the service's root, without a trailing slash

    def catalog(self) -> URIRef:
        return URIRef(f"{self.base}/v1/catalog")

    def page(self, extension: str, number: int) -> URIRef:
        return URIRef(f"{self.base}/v1/catalog.{extension}?page={number}")

    def dataset(self, identifier: str) -> URIRef:
        return URIRef(f"{self.base}/v1/datasets/{identifier}")

    def download(self, identifier: str, extension: str) -> URIRef:
        return URIRef(f"{self.base}/v1/datasets/{identifier}.{extension}")

    def schema(self, identifier: str) -> URIRef:
        return URIRef(f"{self.base}/v1/schemas/{identifier}.json")


def dataset_identifier(territory: Territory, spec: DatasetSpec) -> str:
    """Permanent: the publisher's SIREN and the dataset's identifier, whatever the host."""
    return f"{territory.siren}-{spec.identifier}"


def _typed(graph: Graph, node: URIRef | BNode, *classes: URIRef) -> URIRef | BNode:
    for cls in classes:
        graph.add((node, RDF.type, cls))
    return node


def _french(text: str) -> Literal:
    return Literal(text, lang="fr")


def _phone_uri(phone: str) -> URIRef | None:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 10 and digits.startswith("0"):
        return URIRef(f"tel:+33{digits[1:]}")
    return None


class CatalogBuilder:
    def __init__(self, graph: Graph, urls: Urls, territory: Territory) -> None:
        self.graph = graph
        self.urls = urls
        self.territory = territory
        base = f"{urls.base}/v1/territory"
        self.publisher = URIRef(base)
        self.contact = URIRef(f"{base}#contact")
        self.licence = URIRef(territory.licence_url)
        self.location = URIRef(f"{base}#boundary")

    def add(
        self, subject: URIRef | BNode, predicate: URIRef, obj: URIRef | BNode | Literal
    ) -> None:
        self.graph.add((subject, predicate, obj))

    def common_nodes(self, boundary: str | None, bbox: tuple[float, ...] | None) -> None:
        t = self.territory
        _typed(self.graph, self.publisher, FOAF.Agent, FOAF.Organization)
        self.add(self.publisher, FOAF.name, _french(t.name))
        self.add(self.publisher, DCTERMS.identifier, Literal(t.siren))
        siren = BNode(f"siren{t.siren}")
        _typed(self.graph, siren, ADMS.Identifier)
        self.add(siren, SKOS.notation, Literal(t.siren))
        self.add(siren, DCTERMS.creator, Literal("INSEE — répertoire SIRENE"))
        self.add(self.publisher, ADMS.identifier, siren)
        _typed(self.graph, LOCAL_AUTHORITY, SKOS.Concept)
        self.add(LOCAL_AUTHORITY, SKOS.prefLabel, _french("Autorité locale"))
        self.add(self.publisher, DCTERMS.type, LOCAL_AUTHORITY)
        if t.website:
            website = URIRef(t.website)
            _typed(self.graph, website, FOAF.Document)
            self.add(self.publisher, FOAF.homepage, website)

        _typed(self.graph, self.contact, VCARD.Kind, VCARD.Organization)
        self.add(self.contact, VCARD.fn, Literal(t.name))
        if t.website:
            self.add(self.contact, VCARD.hasURL, URIRef(t.website))
        phone = _phone_uri(t.phone) if t.phone else None
        if phone is not None:
            self.add(self.contact, VCARD.hasTelephone, phone)
        if t.address:
            self.add(self.contact, VCARD["street-address"], Literal(t.address))

        _typed(self.graph, self.licence, DCTERMS.LicenseDocument)
        self.add(self.licence, DCTERMS.title, Literal(t.licence_title))
        if t.licence_spdx:
            self.add(self.licence, DCTERMS.identifier, Literal(t.licence_spdx))

        _typed(self.graph, FRENCH, DCTERMS.LinguisticSystem)
        _typed(self.graph, IRREGULAR, DCTERMS.Frequency)
        _typed(self.graph, PUBLIC_ACCESS, DCTERMS.RightsStatement)

        _typed(self.graph, self.location, DCTERMS.Location)
        if boundary is not None:
            self.add(self.location, LOCN.geometry, Literal(boundary, datatype=GEOJSON_LITERAL))
        if bbox is not None:
            west, south, east, north = bbox
            wkt = (
                f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, "
                f"{west} {south}))"
            )
            self.add(self.location, DCAT.bbox, Literal(wkt, datatype=GSP.wktLiteral))

    def theme(self, theme: Theme) -> URIRef:
        node = URIRef(theme.uri)
        _typed(self.graph, node, SKOS.Concept)
        self.add(node, SKOS.prefLabel, _french(theme.label_fr))
        self.add(node, SKOS.inScheme, DATA_THEMES)
        return node

    def dataset(
        self, spec: DatasetSpec, modified: datetime | None, files: dict[Format, Figures]
    ) -> URIRef:
        t = self.territory
        node = self.urls.dataset(spec.identifier)
        title = spec.title.format(territory=t.name)
        _typed(self.graph, node, DCAT.Dataset)
        self.add(node, DCTERMS.identifier, Literal(dataset_identifier(t, spec)))
        self.add(node, DCTERMS.title, _french(title))
        self.add(node, DCTERMS.description, _french(spec.description.format(territory=t.name)))
        self.add(node, DCTERMS.publisher, self.publisher)
        self.add(node, DCAT.contactPoint, self.contact)
        self.add(node, DCTERMS.license, self.licence)
        self.add(node, DCTERMS.language, FRENCH)
        self.add(node, DCTERMS.accrualPeriodicity, IRREGULAR)
        self.add(node, DCTERMS.spatial, self.location)
        self.add(node, DCTERMS.accessRights, PUBLIC_ACCESS)
        if modified is not None:
            self.add(node, DCTERMS.modified, Literal(modified))
        for keyword in (*spec.keywords, *([t.short_name] if t.short_name else [])):
            self.add(node, DCAT.keyword, _french(keyword))
        for theme in spec.themes:
            self.add(node, DCAT.theme, self.theme(theme))
        for fmt, figure in files.items():
            self.add(node, DCAT.distribution, self.distribution(spec, title, fmt, figure))
        return node

    def distribution(self, spec: DatasetSpec, title: str, fmt: str, figure: Figures) -> URIRef:
        file_format = FILE_FORMATS[fmt]
        node = URIRef(f"{self.urls.dataset(spec.identifier)}#{fmt}")
        url = self.urls.download(spec.identifier, file_format.extension)
        _typed(self.graph, node, DCAT.Distribution)
        self.add(
            node, DCTERMS.identifier, Literal(f"{dataset_identifier(self.territory, spec)}-{fmt}")
        )
        self.add(node, DCTERMS.title, _french(f"{title} ({file_format.label})"))
        self.add(
            node,
            DCTERMS.description,
            _french(f"Export complet au format {file_format.label}, encodé en UTF-8."),
        )
        self.add(node, DCAT.accessURL, url)
        self.add(node, DCAT.downloadURL, url)
        file_type = URIRef(f"{EU}file-type/{file_format.eu_file_type}")
        _typed(self.graph, file_type, DCTERMS.MediaTypeOrExtent)
        self.add(node, DCTERMS.format, file_type)
        media_type = URIRef(IANA + file_format.iana)
        _typed(self.graph, media_type, DCTERMS.MediaType)
        self.add(node, DCAT.mediaType, media_type)
        self.add(node, DCAT.byteSize, Literal(figure.byte_size, datatype=XSD.nonNegativeInteger))
        checksum = BNode(f"checksum-{spec.identifier}-{fmt}")
        _typed(self.graph, checksum, SPDX.Checksum)
        self.add(checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha1)
        self.add(checksum, SPDX.checksumValue, Literal(figure.sha1, datatype=XSD.hexBinary))
        self.add(node, SPDX.checksum, checksum)
        self.add(node, DCTERMS.license, self.licence)
        self.add(node, DCTERMS.language, FRENCH)
        if figure.modified_at is not None:
            self.add(node, DCTERMS.modified, Literal(figure.modified_at))
        standard: URIRef | None = None
        if fmt == "csv":
            standard = self.urls.schema(spec.identifier)
            self.add(standard, DCTERMS.title, _french(f"TableSchema — {title}"))
        elif fmt == "geojson":
            standard = GEOJSON_STANDARD
            self.add(standard, DCTERMS.title, Literal("RFC 7946 — The GeoJSON Format"))
        if standard is not None:
            _typed(self.graph, standard, DCTERMS.Standard)
            self.add(node, DCTERMS.conformsTo, standard)
        return node

    def service(self, datasets: list[URIRef]) -> URIRef:
        t = self.territory
        node = URIRef(f"{self.urls.base}/v1/catalog#api")
        _typed(self.graph, node, DCAT.DataService)
        self.add(node, DCTERMS.identifier, Literal(f"{t.siren}-api"))
        self.add(node, DCTERMS.title, _french(f"API du projet de territoire — {t.name}"))
        self.add(
            node,
            DCTERMS.description,
            _french(
                "API REST en lecture libre : le plan (axes, ambitions, objectifs opérationnels, "
                "actions), les communes membres (GeoJSON), la recherche en français, le flux "
                "des modifications (créations, mises à jour, suppressions) et les exports "
                "complets. Contrat OpenAPI 3.1."
            ),
        )
        self.add(node, DCAT.endpointURL, URIRef(f"{self.urls.base}/v1/"))
        self.add(node, DCAT.endpointDescription, URIRef(f"{self.urls.base}/openapi.json"))
        docs = URIRef(f"{self.urls.base}/docs")
        _typed(self.graph, docs, FOAF.Document)
        self.add(node, DCAT.landingPage, docs)
        self.add(node, DCTERMS.publisher, self.publisher)
        self.add(node, DCAT.contactPoint, self.contact)
        self.add(node, DCTERMS.license, self.licence)
        self.add(node, DCTERMS.accessRights, PUBLIC_ACCESS)
        for keyword in ("API", "projet de territoire", "données ouvertes"):
            self.add(node, DCAT.keyword, _french(keyword))
        for dataset in datasets:
            self.add(node, DCAT.servesDataset, dataset)
        return node


async def build_catalog(
    session: AsyncSession,
    cache: FiguresCache,
    base_url: str,
    extension: RdfFormat,
    page: int,
    page_size: int,
) -> Graph:
    """One page of the catalog, every figure read in the session's snapshot."""
    territory = await territory_repository.get_territory(session)
    if territory is None:
        raise NotFoundError("No territory is loaded yet: the catalog has no publisher.")
    specs = list(REGISTRY)
    pages = max(1, math.ceil(len(specs) / page_size))
    if page > pages:
        raise InvalidParameterError(
            "query", "page", f"the catalog has {pages} page(s); there is no page {page}"
        )
    shown = specs[(page - 1) * page_size : page * page_size]

    graph = Graph(bind_namespaces="core")
    for prefix, namespace in JSONLD_CONTEXT.items():
        graph.bind(prefix, namespace)
    urls = Urls(base_url.rstrip("/"))
    builder = CatalogBuilder(graph, urls, territory)
    builder.common_nodes(
        await repository.territory_boundary(session, BOUNDARY_TOLERANCE),
        await repository.territory_bbox(session),
    )
    versions = {row.dataset: row for row in await repository.dataset_versions(session)}

    catalog = urls.catalog()
    _typed(graph, catalog, DCAT.Catalog)
    builder.add(
        catalog,
        DCTERMS.title,
        _french(f"Données ouvertes du projet de territoire — {territory.name}"),
    )
    builder.add(
        catalog,
        DCTERMS.description,
        _french(
            f"Le projet de territoire de {territory.name} en données ouvertes : le plan "
            "(axes, ambitions, objectifs opérationnels, actions), les communes membres et "
            "l'API qui les publie. Chaque jeu de données est téléchargeable en CSV (avec son "
            "schéma TableSchema) et en JSON, en GeoJSON s'il est géographique."
        ),
    )
    builder.add(catalog, DCTERMS.publisher, builder.publisher)
    builder.add(catalog, DCTERMS.license, builder.licence)
    builder.add(catalog, DCTERMS.language, FRENCH)
    builder.add(catalog, DCTERMS.spatial, builder.location)
    _typed(graph, DATA_THEMES, SKOS.ConceptScheme)
    builder.add(DATA_THEMES, DCTERMS.title, Literal("Data theme", lang="en"))
    builder.add(catalog, DCAT.themeTaxonomy, DATA_THEMES)
    if territory.website:
        builder.add(catalog, FOAF.homepage, URIRef(territory.website))
    issued = await repository.first_created(session)
    if issued is not None:
        builder.add(catalog, DCTERMS.issued, Literal(issued))
    modified = max((row.modified_at for row in versions.values()), default=None)
    if modified is not None:
        builder.add(catalog, DCTERMS.modified, Literal(modified))

    nodes = []
    for spec in shown:
        files = {fmt: await figures(session, cache, spec, fmt) for fmt in spec.formats}
        state = versions.get(spec.identifier)
        node = builder.dataset(spec, state.modified_at if state else None, files)
        builder.add(catalog, DCAT.dataset, node)
        nodes.append(node)
    builder.add(catalog, DCAT.service, builder.service(nodes))

    if pages > 1:
        _typed(graph, catalog, HYDRA.Collection)
        builder.add(catalog, HYDRA.totalItems, Literal(len(specs)))
        view = urls.page(extension, page)
        _typed(graph, view, HYDRA.PartialCollectionView)
        builder.add(view, HYDRA.first, urls.page(extension, 1))
        builder.add(view, HYDRA.last, urls.page(extension, pages))
        if page < pages:
            builder.add(view, HYDRA.next, urls.page(extension, page + 1))
        if page > 1:
            builder.add(view, HYDRA.previous, urls.page(extension, page - 1))
        builder.add(catalog, HYDRA.view, view)
    return graph


def _sorted(graph: Graph) -> Graph:
    """The same triples inserted in a fixed order: rdflib's writers follow the store's order."""
    ordered = Graph(store="SimpleMemory", bind_namespaces="core")
    for prefix, namespace in graph.namespaces():
        ordered.bind(prefix, namespace, override=True)
    for triple in sorted(graph, key=lambda t: tuple(term.n3() for term in t)):
        ordered.add(triple)
    return ordered


def _canonical_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical_json(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_canonical_json(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


_NAMESPACES = re.compile(r"\A(.*?<rdf:RDF\n)((?:\s+xmlns:[^\n]*\n)+)", re.DOTALL)


def serialize(graph: Graph, extension: RdfFormat) -> bytes:
    """rdflib's serialization, put in a fixed order where rdflib iterates sets (JSON-LD nodes
    and values, RDF/XML namespace declarations): the same data gives the same bytes in every
    process, as the catalog's ETag promises."""
    graph = _sorted(graph)
    if extension == "jsonld":
        text = graph.serialize(format="json-ld", context=JSONLD_CONTEXT, auto_compact=True)
        document = _canonical_json(json.loads(text))
        return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()
    if extension == "ttl":
        return graph.serialize(format="turtle").encode()
    text = graph.serialize(format="xml")
    match = _NAMESPACES.match(text)
    if match is not None:
        declarations = sorted(match.group(2).splitlines(keepends=True))
        text = match.group(1) + "".join(declarations) + text[match.end() :]
    return text.encode()
