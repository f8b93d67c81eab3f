"""Example actions for Sirocco and Mistral: ``acme.checksum`` and ``acme.open_ticket``."""
