"""The catalog's vocabulary: the RDF namespaces and EU authority IRIs it uses, the RDF and file
formats it offers, the URLs it links to, and the small node helpers every part shares."""

from dataclasses import dataclass
from typing import Literal as TypingLiteral

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from app.models.territory import Territory
from app.services.registry_spec import DatasetSpec

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


def typed(graph: Graph, node: URIRef | BNode, *classes: URIRef) -> URIRef | BNode:
    for cls in classes:
        graph.add((node, RDF.type, cls))
    return node


def french(text: str) -> Literal:
    return Literal(text, lang="fr")


def phone_uri(phone: str) -> URIRef | None:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 10 and digits.startswith("0"):
        return URIRef(f"tel:+33{digits[1:]}")
    return None
