//! Scheduling: cron expressions and time zones (the background worker comes later in
//! this module).

pub mod cron;
pub mod zone;
