"""The kubernetes executor: one Job per Execution in the runner namespace (see `manifests`)."""
