"""Rich renderables and plots built from reports."""
