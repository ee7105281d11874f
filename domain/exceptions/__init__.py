"""Exception cases (R-6): the case record, its types and causes, and the rules of handling it."""
