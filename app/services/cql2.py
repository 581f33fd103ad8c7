"""CQL2 filters (OGC API – Features Part 3) translated into SQL with bound parameters.

pygeofilter parses CQL2 text and JSON into an abstract syntax tree; this module walks that tree
and writes SQL itself: properties are looked up among the collection's queryables (their SQL
comes from the collection's description, never from the request), every literal becomes a bound
parameter, and anything outside the supported classes is refused with a 400 that names it.

Supported: basic CQL2 (comparisons, AND/OR/NOT, IS NULL), advanced comparison operators (LIKE,
BETWEEN, IN), case- and accent-insensitive comparison (CASEI, ACCENTI), and the basic spatial
function S_INTERSECTS with geometry literals (WKT or GeoJSON) and BBOX.
"""

import json
import math
from datetime import UTC, date, datetime, time
from typing import Any

import lark
import shapely
import shapely.errors
import shapely.geometry
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from shapely.validation import explain_validity

from app.errors import InvalidParameterError
from app.repositories.features import Collection, Params, Property
from app.services.crs import CrsSpec

MAX_FILTER_LENGTH = 20_000
MAX_DEPTH = 64


class _RefusedError(Exception):
    pass


def _refuse(reason: str) -> _RefusedError:
    return _RefusedError(reason)


def _json_bbox_to_polygon(node: Any, depth: int = 0) -> Any:
    """Rewrite CQL2 JSON before parsing: `{"bbox": [...]}` as a GeoJSON Polygon (pygeofilter
    0.4.0 reads the four numbers in the wrong order), `accenti` as a function, and the standard
    three-argument `between` as the two-argument form that parser expects."""
    if depth > MAX_DEPTH:
        raise _refuse(f"the filter is nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, list):
        return [_json_bbox_to_polygon(item, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "bbox" in node and "op" not in node:
        box = node["bbox"]
        if not isinstance(box, list) or len(box) not in (4, 6):
            raise _refuse("a bbox literal has 4 (or 6) numbers")
        minx, miny, maxx, maxy = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
        ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]
        return {"type": "Polygon", "coordinates": [ring]}
    arguments = node.get("args")
    if node.get("op") == "between" and isinstance(arguments, list) and len(arguments) == 3:
        value, low, high = (_json_bbox_to_polygon(item, depth + 1) for item in arguments)
        return {"op": "between", "args": [value, [low, high]]}
    if node.get("op") == "accenti":
        return {
            "function": {"name": "accenti", "arguments": _json_bbox_to_polygon(arguments, depth)}
        }
    return {key: _json_bbox_to_polygon(value, depth + 1) for key, value in node.items()}


# pygeofilter 0.4.0's CQL2 text grammar has no escaped quote: a doubled '' inside a literal is
# swapped for this private-use character before parsing and restored when the literal is bound.
_QUOTE = "\ue000"


def _protect_quotes(text: str) -> str:
    if _QUOTE in text:
        raise _refuse("the filter contains a private-use character (U+E000)")
    out: list[str] = []
    inside = False
    index = 0
    while index < len(text):
        character = text[index]
        if character == "'":
            if inside and text[index + 1 : index + 2] == "'":
                out.append(_QUOTE)
                index += 2
                continue
            inside = not inside
        out.append(character)
        index += 1
    return "".join(out)


def _restore_quotes(value: str) -> str:
    return value.replace(_QUOTE, "'")


def parse_filter(text: str, language: str) -> Any:
    """The AST of a CQL2 filter, or a 400 that says what is wrong with it."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidParameterError(
            "query", "filter", f"longer than {MAX_FILTER_LENGTH} characters"
        )
    try:
        if language == "cql2-json":
            try:
                document = json.loads(text)
            except ValueError as error:
                raise _refuse(f"not JSON: {error}") from error
            return parse_cql2_json(_json_bbox_to_polygon(document))
        return parse_cql2_text(_protect_quotes(text))
    except _RefusedError as error:
        raise InvalidParameterError("query", "filter", str(error)) from error
    except lark.exceptions.UnexpectedInput as error:
        column = getattr(error, "column", "?")
        raise InvalidParameterError(
            "query", "filter", f"not valid CQL2 text (at character {column})"
        ) from error
    except RecursionError as error:
        raise InvalidParameterError("query", "filter", "nested too deeply") from error
    except (lark.exceptions.LarkError, ValueError, TypeError, KeyError, IndexError) as error:
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise InvalidParameterError("query", "filter", f"not valid {language}: {reason}") from error
    except Exception as error:  # the parser's own errors are plain Exceptions
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise InvalidParameterError("query", "filter", f"not valid {language}: {reason}") from error


_COMPARISONS: dict[type[ast.Node], str] = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
_CASTS = {"string": "text", "integer": "bigint", "number": "float8", "timestamp": "timestamptz"}


def _comparable(kind: str, expected: str | None) -> str:
    """The kind of an operand, refused when the other operand has another kind."""
    if expected is None or kind == expected or {kind, expected} == {"integer", "number"}:
        return kind
    raise _refuse(f"a {expected} cannot be compared with a {kind}")


class Translator:
    def __init__(self, collection: Collection, params: Params, crs: CrsSpec) -> None:
        self.collection = collection
        self.params = params
        self.crs = crs

    # --- scalar expressions: (sql, kind) ---------------------------------------------------

    def _property(self, name: object) -> Property:
        if not isinstance(name, str):
            raise _refuse("a property name must be a string")
        found = self.collection.properties.get(name)
        if found is None or not found.queryable:
            names = ", ".join(
                sorted(n for n, p in self.collection.properties.items() if p.queryable)
            )
            raise _refuse(
                f"'{name[:60]}' is not a queryable of this collection; use one of {names}"
            )
        return found

    def scalar(self, node: Any, expected: str | None = None) -> tuple[str, str]:
        if isinstance(node, ast.Attribute):
            if node.name in ("geometry", self.collection.id + ".geometry"):
                raise _refuse("the geometry can only be used in S_INTERSECTS")
            found = self._property(node.name)
            return found.filter_sql, _comparable(found.kind, expected)
        if isinstance(node, ast.Function):
            if not isinstance(node.name, str):
                raise _refuse("a function name must be a string")
            name = node.name.lower()
            if name in ("lower", "casei", "accenti") and len(node.arguments) == 1:
                inner, kind = self.scalar(node.arguments[0], "string")
                if kind != "string":
                    raise _refuse(f"{name.upper()} applies to text, not to {kind}")
                function = "lower" if name in ("lower", "casei") else "unaccent"
                return f"{function}({inner})", _comparable("string", expected)
            raise _refuse(f"function {node.name[:40]!r} is not supported")
        if isinstance(node, ast.Node | values.Geometry | values.Envelope | values.Interval):
            raise _refuse(f"{type(node).__name__} is not supported here")
        return self.literal(node, expected)

    def literal(self, value: Any, expected: str | None) -> tuple[str, str]:
        if isinstance(value, bool):
            raise _refuse("boolean literals are not supported: no queryable is a boolean")
        if isinstance(value, str):
            kind = "string"
        elif isinstance(value, int):
            kind = "integer"
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _refuse("numbers must be finite")
            kind = "number"
        elif isinstance(value, datetime | date) and not isinstance(value, time):
            kind = "timestamp"
        else:
            raise _refuse(f"literal {str(value)[:40]!r} is not supported")
        if expected is not None and kind != expected:
            if {kind, expected} == {"integer", "number"}:
                # Bound as float8: 1.9 must not be truncated to the integer 1.
                kind = "number"
            elif expected == "timestamp" and kind == "string":
                raise _refuse("compare timestamps with TIMESTAMP('...') or DATE('...')")
            else:
                raise _refuse(f"a {expected} cannot be compared with a {kind}")
        if kind == "integer" and not -(2**63) <= value < 2**63:
            raise _refuse("integer out of range")
        if kind == "timestamp" and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day, tzinfo=UTC)
        if kind == "timestamp" and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # CQL2 timestamps are UTC
        if kind == "string":
            if "\x00" in value:
                raise _refuse("text literals cannot contain NUL")
            value = _restore_quotes(value)
        return self.params.add(value, _CASTS[kind]), kind

    def _pattern(self, node: Any) -> str:
        """A LIKE pattern: a text literal, possibly under CASEI, ACCENTI or LOWER."""
        if isinstance(node, str):
            if "\x00" in node:
                raise _refuse("text literals cannot contain NUL")
            return self.params.add(_restore_quotes(node), "text")
        if (
            isinstance(node, ast.Function)
            and isinstance(node.name, str)
            and node.name.lower() in ("lower", "casei", "accenti")
            and len(node.arguments) == 1
        ):
            function = "unaccent" if node.name.lower() == "accenti" else "lower"
            return f"{function}({self._pattern(node.arguments[0])})"
        raise _refuse("LIKE compares text with a text pattern")

    def _kind_of(self, node: Any) -> str | None:
        if self._is_geometry_property(node):
            raise _refuse("the geometry can only be used in S_INTERSECTS")
        if isinstance(node, ast.Attribute):
            return self._property(node.name).kind
        if isinstance(node, ast.Function):
            return "string"
        return None

    # --- conditions ------------------------------------------------------------------------

    def condition(self, node: Any, depth: int = 0) -> str:
        if depth > MAX_DEPTH:
            raise _refuse(f"the filter is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.And | ast.Or):
            word = "AND" if isinstance(node, ast.And) else "OR"
            left = self.condition(node.lhs, depth + 1)
            right = self.condition(node.rhs, depth + 1)
            return f"({left} {word} {right})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.condition(node.sub_node, depth + 1)})"
        if isinstance(node, ast.Include):
            return "FALSE" if node.not_ else "TRUE"
        if isinstance(node, bool):  # a boolean literal is a condition of its own
            return "TRUE" if node else "FALSE"
        if type(node) in _COMPARISONS:
            kind = self._kind_of(node.lhs) or self._kind_of(node.rhs)
            left, left_kind = self.scalar(node.lhs, kind)
            right, right_kind = self.scalar(node.rhs, left_kind)
            if left_kind == "array" or right_kind == "array":
                raise _refuse("arrays cannot be compared")
            return f"({left} {_COMPARISONS[type(node)]} {right})"
        if isinstance(node, ast.IsNull):
            inner, _ = self.scalar(node.lhs)
            return f"({inner} IS {'NOT ' if node.not_ else ''}NULL)"
        if isinstance(node, ast.Like):
            inner, kind = self.scalar(node.lhs, "string")
            if kind != "string":
                raise _refuse("LIKE compares text with a text pattern")
            pattern = self._pattern(node.pattern)
            operator = "ILIKE" if node.nocase else "LIKE"
            negation = "NOT " if node.not_ else ""
            return f"({inner} {negation}{operator} {pattern} ESCAPE '\\')"
        if isinstance(node, ast.Between):
            kind = self._kind_of(node.lhs)
            inner, kind_ = self.scalar(node.lhs, kind)
            low, _ = self.scalar(node.low, kind_)
            high, _ = self.scalar(node.high, kind_)
            negation = "NOT " if node.not_ else ""
            return f"({inner} {negation}BETWEEN {low} AND {high})"
        if isinstance(node, ast.In):
            kind = self._kind_of(node.lhs)
            inner, kind_ = self.scalar(node.lhs, kind)
            if not node.sub_nodes:
                raise _refuse("IN needs at least one value")
            if len(node.sub_nodes) > 1000:
                raise _refuse("IN takes at most 1000 values")
            items = ", ".join(self.scalar(item, kind_)[0] for item in node.sub_nodes)
            return f"({inner} {'NOT ' if node.not_ else ''}IN ({items}))"
        if isinstance(node, ast.GeometryIntersects):
            return self.intersects(node.lhs, node.rhs)
        if isinstance(node, ast.Predicate):
            raise _refuse(f"{_name(node)} is not supported; use S_INTERSECTS for space")
        raise _refuse(f"{_name(node)} is not a condition")

    def _is_geometry_property(self, node: Any) -> bool:
        return isinstance(node, ast.Attribute) and node.name in (
            "geometry",
            self.collection.id + ".geometry",
        )

    def intersects(self, lhs: Any, rhs: Any) -> str:
        if self._is_geometry_property(rhs) and not self._is_geometry_property(lhs):
            lhs, rhs = rhs, lhs
        if not self._is_geometry_property(lhs):
            raise _refuse("S_INTERSECTS compares the property 'geometry' with a geometry literal")
        literal = self.geometry_literal(rhs)
        return f"ST_Intersects({self.collection.geometry}, {literal})"

    def geometry_literal(self, node: Any) -> str:
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            numbers = node.arguments
            if len(numbers) == 6:
                numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
            if len(numbers) != 4 or not all(
                isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n)
                for n in numbers
            ):
                raise _refuse("BBOX takes 4 (or 6) numbers")
            return self.crs.envelope_sql(self.params, [float(n) for n in numbers])
        if isinstance(node, values.Envelope):
            return self.crs.envelope_sql(self.params, [node.x1, node.y1, node.x2, node.y2])
        if isinstance(node, values.Geometry):
            try:
                geometry = shapely.geometry.shape(_plain(node.geometry))
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
                raise _refuse(f"not a valid geometry literal: {error}") from error
            except shapely.errors.GEOSException as error:
                raise _refuse(f"not a valid geometry literal: {error}") from error
            if geometry.is_empty:
                raise _refuse("the geometry literal is empty")
            if not geometry.is_valid:
                raise _refuse(f"invalid geometry literal: {explain_validity(geometry)}")
            x_min, y_min, x_max, y_max = geometry.bounds
            self.crs.check_extent("filter", x_min, y_min, x_max, y_max)
            return self.crs.geometry_sql(self.params, shapely.force_2d(geometry).wkt)
        raise _refuse("S_INTERSECTS needs a geometry literal (WKT, GeoJSON or BBOX)")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _name(node: Any) -> str:
    operator = getattr(node, "op", None)
    if operator is not None:
        return str(getattr(operator, "value", operator))
    return type(node).__name__


def filter_sql(tree: Any, collection: Collection, params: Params, crs: CrsSpec) -> str:
    """SQL for a parsed filter, or a 400 naming what is not supported."""
    try:
        return Translator(collection, params, crs).condition(tree)
    except _RefusedError as error:
        raise InvalidParameterError("query", "filter", str(error)) from error
    except RecursionError as error:
        raise InvalidParameterError("query", "filter", "nested too deeply") from error
