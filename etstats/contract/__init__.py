"""The bus contract: messages generated from `proto/etstats/contract/*.proto`,
and the one mapping between the stats-file model and those messages."""
