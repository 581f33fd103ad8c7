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

Here: the catalog page assembled and serialized; the vocabulary is in catalog_vocabulary, the
nodes are built by catalog_builder.
"""

import json
import math
import re
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidParameterError, NotFoundError
from app.repositories import publication as repository
from app.repositories import territory as territory_repository
from app.services.catalog_builder import CatalogBuilder
from app.services.catalog_vocabulary import (
    BOUNDARY_TOLERANCE,
    DATA_THEMES,
    FRENCH,
    HYDRA,
    JSONLD_CONTEXT,
    RdfFormat,
    Urls,
    french,
    typed,
)
from app.services.exports import FiguresCache, figures
from app.services.registry import REGISTRY


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

    # Triples only: no contexts (quads) are needed, and SimpleMemory keeps none. See `release`.
    graph = Graph(store="SimpleMemory", bind_namespaces="core")
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
    typed(graph, catalog, DCAT.Catalog)
    builder.add(
        catalog,
        DCTERMS.title,
        french(f"Données ouvertes du projet de territoire — {territory.name}"),
    )
    builder.add(
        catalog,
        DCTERMS.description,
        french(
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
    typed(graph, DATA_THEMES, SKOS.ConceptScheme)
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
        typed(graph, catalog, HYDRA.Collection)
        builder.add(catalog, HYDRA.totalItems, Literal(len(specs)))
        view = urls.page(extension, page)
        typed(graph, view, HYDRA.PartialCollectionView)
        builder.add(view, HYDRA.first, urls.page(extension, 1))
        builder.add(view, HYDRA.last, urls.page(extension, pages))
        if page < pages:
            builder.add(view, HYDRA.next, urls.page(extension, page + 1))
        if page > 1:
            builder.add(view, HYDRA.previous, urls.page(extension, page - 1))
        builder.add(catalog, HYDRA.view, view)
    return graph


def release(graph: Graph) -> None:
    """Let the graph go as soon as it is dropped. An rdflib graph and its namespace manager
    refer to each other: left alone, a page's graph and its store with thousands of triples
    wait for the cyclic collector's next full pass, and a worker answering harvesters all day
    grows meanwhile (the soak's worker: +37% RSS in 600 s). The manager is remade if the graph
    is used again."""
    graph.namespace_manager = None  # type: ignore[assignment]  # rdflib remakes it when read


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
    ordered = _sorted(graph)
    try:
        return _serialize(ordered, extension)
    finally:
        release(ordered)


def _serialize(graph: Graph, extension: RdfFormat) -> bytes:
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
