"""What every figure shares: the one method-style table (style), seed bands, axis labels, atomic saving (plots)."""
