"""Platform libraries, framework-free: never import py4web, pydal or shared from here."""
