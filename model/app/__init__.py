"""The teaching app (``multivector teach``): the Solara page and its teaching logic."""
