#!/bin/sh
# Run once by the influxdb:2 image after its first setup: maps the database
# "kerbside" (retention policy "autogen") to the bucket, so Grafana's InfluxQL queries
# reach it through the v1 compatibility API.
set -e
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db kerbside --rp autogen --default
