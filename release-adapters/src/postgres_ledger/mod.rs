//! The PostgreSQL ledger (in progress).
