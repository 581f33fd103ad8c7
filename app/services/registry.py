"""The datasets the service publishes, declared once and used by the catalog (DCAT), the bulk
exports (CSV, JSON, GeoJSON and their TableSchema), the change feed and the search.

A dataset declares a permanent identifier, French titles, its columns (a TableSchema), the SQL
that yields its rows (in app/repositories), its public key, and its geometry if it has one. Its
rows must be the dataset's own fields plus permanent codes of what it links to: the change log
records a change of a row of the dataset's tables, nothing else, so a value derived from another
dataset (a count, a parent's title) would change without the feed saying so.

To publish another dataset: add its row source to app/repositories/publication_rows.py, a
DatasetSpec (app/services/registry_spec.py) in the registry_* module of its domain (plan,
initiatives, follow-up) and to the tuple below, and in a migration the row trigger
`record_change('<identifier>', '<key column>')` on each of its tables (see the publication
migration); a search source if its text is to be searched (app/repositories/search_sources.py).
"""

from app.services.registry_follow_up import FOLLOW_UP_DATASETS
from app.services.registry_initiatives import INITIATIVE_DATASETS
from app.services.registry_plan import PLAN_DATASETS
from app.services.registry_spec import Registry

REGISTRY = Registry()
for _spec in (*PLAN_DATASETS, *INITIATIVE_DATASETS, *FOLLOW_UP_DATASETS):
    REGISTRY.register(_spec)
