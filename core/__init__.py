"""Image Refresh core: the cache, its manifest and the never-lose-an-image refresh engine."""

__version__ = "0.1.0"
