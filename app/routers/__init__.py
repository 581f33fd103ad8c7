"""HTTP: thin routers that parse, call a service and answer."""
