"""Writers: canonical records back to the export formats reference managers import."""
