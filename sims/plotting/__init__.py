"""What every figure shares: method styles, seed bands, axis labels, atomic saving."""
