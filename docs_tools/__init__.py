"""What builds the site besides MkDocs: Markdown fence formatters and figure styling.

Importable on its own (Zensical, Material's successor, loads fence formatters but not MkDocs
hooks), so the site's figures do not depend on MkDocs' plugin system.
"""
