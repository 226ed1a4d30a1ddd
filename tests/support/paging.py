"""Walk a pager from the first page to the last, as a reader scrolling to the end reaches them."""

from __future__ import annotations

from auditlog.indexer.query.pager import Page, Pager


def page_count(pager: Pager) -> int:
    """Return how many pages ``pager`` lists (0 when nothing matches; reads the total first)."""
    return -(-pager.total // pager.page_size)


def all_pages(pager: Pager) -> list[Page]:
    """Return every page of ``pager`` in order (none when nothing matches).

    Args:
        pager: the pager to walk; its total is read first (the first page's request).

    Returns:
        Pages 0 to the last, each fetched with ``Pager.page``.
    """
    return [pager.page(number) for number in range(page_count(pager))]
