"""Claims for damaged, wrongly shipped and lost goods (R-6.4): evidence, resolution, compensation."""
