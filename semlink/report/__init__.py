"""Reports of finished runs: figures (``plots``), ``report.md`` and ``report.html``
(``document``), contact sheets (``sheet``) and MLflow logging (``mlflow_log``)."""
