"""Rich render functions: pure, data in, renderable out."""
