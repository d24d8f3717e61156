"""Image Refresh's Qt window. Importing this package loads no Qt module."""
