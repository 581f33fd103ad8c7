"""All SQL lives here. Functions take the request's session and return plain rows."""
