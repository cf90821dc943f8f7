from collections.abc import Callable, Iterable

from lxml import etree

def lines(text: str, boundary: str) -> list[str]: ...

class Walker:
    def __init__(self, skip: Iterable[str], block: Iterable[str], furniture: Iterable[str],
                 hidden: Callable[[str | None, str | None], bool],
                 is_furniture: Callable[[str | None, str | None, str | None], bool], boundary: str) -> None: ...
    def lines(self, root: etree._Element, skip_furniture: bool) -> list[str]: ...
