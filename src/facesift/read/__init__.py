"""The first stage: reading images (decode.py), folders of them (folders.py) and manifests of
their provenance (manifests.py). Nothing here knows about faces, the catalog or the index."""
