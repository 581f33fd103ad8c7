"""Building the DCAT graph node by node: the catalog, its publisher and contact, each dataset with
its distributions (size, checksum, schema), the data service, and the Hydra paging."""

from datetime import datetime

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS, XSD

from app.models.territory import Territory
from app.services.catalog_vocabulary import (
    ADMS,
    DATA_THEMES,
    EU,
    FILE_FORMATS,
    FRENCH,
    GEOJSON_LITERAL,
    GEOJSON_STANDARD,
    GSP,
    IANA,
    IRREGULAR,
    LOCAL_AUTHORITY,
    LOCN,
    PUBLIC_ACCESS,
    SPDX,
    VCARD,
    Urls,
    dataset_identifier,
    french,
    phone_uri,
    typed,
)
from app.services.exports import Figures
from app.services.registry_spec import DatasetSpec, Format, Theme


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
        typed(self.graph, self.publisher, FOAF.Agent, FOAF.Organization)
        self.add(self.publisher, FOAF.name, french(t.name))
        self.add(self.publisher, DCTERMS.identifier, Literal(t.siren))
        siren = BNode(f"siren{t.siren}")
        typed(self.graph, siren, ADMS.Identifier)
        self.add(siren, SKOS.notation, Literal(t.siren))
        self.add(siren, DCTERMS.creator, Literal("INSEE — répertoire SIRENE"))
        self.add(self.publisher, ADMS.identifier, siren)
        typed(self.graph, LOCAL_AUTHORITY, SKOS.Concept)
        self.add(LOCAL_AUTHORITY, SKOS.prefLabel, french("Autorité locale"))
        self.add(self.publisher, DCTERMS.type, LOCAL_AUTHORITY)
        if t.website:
            website = URIRef(t.website)
            typed(self.graph, website, FOAF.Document)
            self.add(self.publisher, FOAF.homepage, website)

        typed(self.graph, self.contact, VCARD.Kind, VCARD.Organization)
        self.add(self.contact, VCARD.fn, Literal(t.name))
        if t.website:
            self.add(self.contact, VCARD.hasURL, URIRef(t.website))
        phone = phone_uri(t.phone) if t.phone else None
        if phone is not None:
            self.add(self.contact, VCARD.hasTelephone, phone)
        if t.address:
            self.add(self.contact, VCARD["street-address"], Literal(t.address))

        typed(self.graph, self.licence, DCTERMS.LicenseDocument)
        self.add(self.licence, DCTERMS.title, Literal(t.licence_title))
        if t.licence_spdx:
            self.add(self.licence, DCTERMS.identifier, Literal(t.licence_spdx))

        typed(self.graph, FRENCH, DCTERMS.LinguisticSystem)
        typed(self.graph, IRREGULAR, DCTERMS.Frequency)
        typed(self.graph, PUBLIC_ACCESS, DCTERMS.RightsStatement)

        typed(self.graph, self.location, DCTERMS.Location)
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
        typed(self.graph, node, SKOS.Concept)
        self.add(node, SKOS.prefLabel, french(theme.label_fr))
        self.add(node, SKOS.inScheme, DATA_THEMES)
        return node

    def dataset(
        self, spec: DatasetSpec, modified: datetime | None, files: dict[Format, Figures]
    ) -> URIRef:
        t = self.territory
        node = self.urls.dataset(spec.identifier)
        title = spec.title.format(territory=t.name)
        typed(self.graph, node, DCAT.Dataset)
        self.add(node, DCTERMS.identifier, Literal(dataset_identifier(t, spec)))
        self.add(node, DCTERMS.title, french(title))
        self.add(node, DCTERMS.description, french(spec.description.format(territory=t.name)))
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
            self.add(node, DCAT.keyword, french(keyword))
        for theme in spec.themes:
            self.add(node, DCAT.theme, self.theme(theme))
        for fmt, figure in files.items():
            self.add(node, DCAT.distribution, self.distribution(spec, title, fmt, figure))
        return node

    def distribution(self, spec: DatasetSpec, title: str, fmt: str, figure: Figures) -> URIRef:
        file_format = FILE_FORMATS[fmt]
        node = URIRef(f"{self.urls.dataset(spec.identifier)}#{fmt}")
        url = self.urls.download(spec.identifier, file_format.extension)
        typed(self.graph, node, DCAT.Distribution)
        self.add(
            node, DCTERMS.identifier, Literal(f"{dataset_identifier(self.territory, spec)}-{fmt}")
        )
        self.add(node, DCTERMS.title, french(f"{title} ({file_format.label})"))
        self.add(
            node,
            DCTERMS.description,
            french(f"Export complet au format {file_format.label}, encodé en UTF-8."),
        )
        self.add(node, DCAT.accessURL, url)
        self.add(node, DCAT.downloadURL, url)
        file_type = URIRef(f"{EU}file-type/{file_format.eu_file_type}")
        typed(self.graph, file_type, DCTERMS.MediaTypeOrExtent)
        self.add(node, DCTERMS.format, file_type)
        media_type = URIRef(IANA + file_format.iana)
        typed(self.graph, media_type, DCTERMS.MediaType)
        self.add(node, DCAT.mediaType, media_type)
        self.add(node, DCAT.byteSize, Literal(figure.byte_size, datatype=XSD.nonNegativeInteger))
        checksum = BNode(f"checksum-{spec.identifier}-{fmt}")
        typed(self.graph, checksum, SPDX.Checksum)
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
            self.add(standard, DCTERMS.title, french(f"TableSchema — {title}"))
        elif fmt == "geojson":
            standard = GEOJSON_STANDARD
            self.add(standard, DCTERMS.title, Literal("RFC 7946 — The GeoJSON Format"))
        if standard is not None:
            typed(self.graph, standard, DCTERMS.Standard)
            self.add(node, DCTERMS.conformsTo, standard)
        return node

    def service(self, datasets: list[URIRef]) -> URIRef:
        t = self.territory
        node = URIRef(f"{self.urls.base}/v1/catalog#api")
        typed(self.graph, node, DCAT.DataService)
        self.add(node, DCTERMS.identifier, Literal(f"{t.siren}-api"))
        self.add(node, DCTERMS.title, french(f"API du projet de territoire — {t.name}"))
        self.add(
            node,
            DCTERMS.description,
            french(
                "API REST en lecture libre : le plan (axes, ambitions, objectifs opérationnels, "
                "actions), les communes membres (GeoJSON), la recherche en français, le flux "
                "des modifications (créations, mises à jour, suppressions) et les exports "
                "complets. Contrat OpenAPI 3.1."
            ),
        )
        self.add(node, DCAT.endpointURL, URIRef(f"{self.urls.base}/v1/"))
        self.add(node, DCAT.endpointDescription, URIRef(f"{self.urls.base}/openapi.json"))
        docs = URIRef(f"{self.urls.base}/docs")
        typed(self.graph, docs, FOAF.Document)
        self.add(node, DCAT.landingPage, docs)
        self.add(node, DCTERMS.publisher, self.publisher)
        self.add(node, DCAT.contactPoint, self.contact)
        self.add(node, DCTERMS.license, self.licence)
        self.add(node, DCTERMS.accessRights, PUBLIC_ACCESS)
        for keyword in ("API", "projet de territoire", "données ouvertes"):
            self.add(node, DCAT.keyword, french(keyword))
        for dataset in datasets:
            self.add(node, DCAT.servesDataset, dataset)
        return node
