"""The report's typography for display text (titles, captions, table cells)."""


def typeset(text) -> str:
    """Light typography for display text: ``->`` becomes an arrow."""
    return str(text).replace(" -> ", " → ").replace("->", "→")
