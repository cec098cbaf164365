"""The graph's nodes, one module per family; ``kit`` holds what they share."""
