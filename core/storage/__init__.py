"""What Strata keeps on disk, each written atomically and read back only when intact.

- ``activations``: pooled activations per (model, texts, pooling), content-addressed
- ``cells``: finished probe cells, so a killed probing stage resumes
- ``store``: the DuckDB results database (schema, migrations, writes, queries, travel)
- ``memo``: costly analyses cached beside the results database
"""
