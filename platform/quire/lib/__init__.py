"""Small shared building blocks of the platform, one topic a module."""
