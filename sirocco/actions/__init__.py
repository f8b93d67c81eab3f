"""Actions: the mistral_lib-compatible contract, the registry and Mistral's std actions.

``registry`` names the actions (std, entry points, configured modules),
``runner`` runs one and turns what it did into an outcome, ``signature`` reads
and writes the input text Mistral shows, ``std`` holds the standard actions.
"""
