"""How messages travel between Sirocco's roles: in memory (one process) or over AMQP."""

from sirocco.transport.base import Delivery, Handler, Transport
from sirocco.transport.memory import MemoryTransport

__all__ = ["Delivery", "Handler", "MemoryTransport", "Transport", "open_transport"]


def open_transport(url: str | None, *, required: bool = True) -> Transport:
    """``memory://`` (the default) or an AMQP URL such as ``amqp://guest:guest@127.0.0.1//``.

    ``required``: a broker that can't be reached now is a ConfigurationError; otherwise
    the transport starts disconnected and keeps trying.
    """
    if not url or url.startswith("memory"):
        return MemoryTransport()
    from sirocco.transport.amqp import AmqpTransport

    return AmqpTransport(url, required=required)
