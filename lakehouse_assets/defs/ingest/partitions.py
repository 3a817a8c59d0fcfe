import dagster as dg

# One partition per dataset name; the landing-zone sensor and online ingests add them.
dataset_partitions = dg.DynamicPartitionsDefinition(name="datasets")
