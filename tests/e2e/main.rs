//! kerbside's one end-to-end test binary. It talks to the real servers that
//! `deploy/dev/services up` starts on loopback (addresses from the `KERBSIDE_TEST_*`
//! variables, see `deploy/dev/README.md`) and fails, never skips, when one is down.

mod acl;
mod aggregate;
mod aggregate_group;
mod alerts;
mod dashboards;
mod demo;
mod deploy;
mod file_store;
mod ingest;
mod kafka_faults;
mod lateness;
mod oracle;
mod outage;
mod publish;
mod replay;
mod routes;
mod sim;
mod smoke;
mod store_outage;
mod support;
