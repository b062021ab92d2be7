"""Results on disk: the one tidy-row schema (:mod:`sims.results.schema`: the columns and the row
filter), its CSV writer and reader (:mod:`sims.results.rows`), the results folder with its
config.json, checked cell files and checksums (:mod:`sims.results.folder`) and the provenance
meta.json records (:mod:`sims.results.provenance`). Imports only ``sims.foundations`` and
``theory``, so every layer that writes or reads rows can use it."""
