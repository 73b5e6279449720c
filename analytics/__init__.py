"""Pure network analysis: ties in, plain data out."""
