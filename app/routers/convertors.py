"""Path convertors shared by the routers."""

from starlette.convertors import Convertor, register_url_convertor


class IdConvertor(Convertor[int]):
    """A positive 64-bit id, at most 19 digits: anything else does not match the route (so a
    sibling path such as /v1/webhooks/event-types is not taken for an id, and a 10 000-digit
    value is a 404, never a huge integer)."""

    regex = "[1-9][0-9]{0,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())
