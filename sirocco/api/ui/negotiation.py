"""``Accept`` header negotiation: does a client at ``/`` want a page or Mistral's JSON?"""

from __future__ import annotations


def prefers_html(accept: str | None) -> bool:
    """True when ``text/html`` is asked for and ranks above ``application/json``.

    Browsers send ``text/html,...,*/*;q=0.8``; API clients send
    ``application/json``, ``*/*`` or nothing, and keep getting JSON.
    """
    weights = _weights(accept or "")
    html = weights.get("text/html", 0.0)
    json = max(weights.get("application/json", 0.0), weights.get("application/*", 0.0))
    return html > 0.0 and html > json


def _weights(accept: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.lower()] = max(weight, weights.get(media.lower(), 0.0))
    return weights
