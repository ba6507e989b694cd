"""The django-trax browser dashboard (a Django app; imports trax, never the reverse)."""
