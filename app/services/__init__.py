"""Rules: how rows become the published resources (paging, trees, counts)."""
