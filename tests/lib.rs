//! The kerbside end-to-end suite lives in `e2e/`; this library is empty on purpose so
//! the package has one test binary and nothing else.
