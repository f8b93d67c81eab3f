"""Sirocco api."""
