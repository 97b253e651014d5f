//! A real Citus cluster on loopback for the scale-out tests and benchmark: a
//! coordinator (Citus and bravo_metrics preloaded, Citus first) and two workers (Citus
//! only: bravo_metrics is installed on the machine, not preloaded there), three
//! PostgreSQL 15 clusters. Citus 13.2.2 must be installed (`scripts/citus.sh`, which
//! `scripts/test.sh` runs).

use std::path::Path;

use postgres::Client;

use super::{point_at, Cluster, ClusterOptions};

pub struct CitusCluster {
    pub coordinator: Cluster,
    pub workers: Vec<Cluster>,
}

impl CitusCluster {
    /// Three clusters, database `db` with Citus on each, the workers added to the
    /// coordinator (which is in the metadata, so reference tables have a copy there).
    pub fn start(db: &str) -> CitusCluster {
        CitusCluster::start_with(db, &[])
    }

    /// The same, with `conf` lines added to every node's postgresql.conf.
    pub fn start_with(db: &str, conf: &[&str]) -> CitusCluster {
        assert!(
            Path::new("/usr/lib/postgresql/15/lib/citus.so").exists(),
            "Citus is not installed: run bash scripts/citus.sh"
        );
        let node = |libs: &str| {
            Cluster::start(ClusterOptions {
                preload: false,
                conf: conf
                    .iter()
                    .map(|l| l.to_string())
                    .chain([
                        format!("shared_preload_libraries = '{libs}'"),
                        // Citus commits a multi-node transaction in two phases.
                        "max_prepared_transactions = 50".to_string(),
                        // In-doubt transactions of a node that went away are resolved
                        // within a second of its return (default: a minute).
                        "citus.recover_2pc_interval = 1000".to_string(),
                    ])
                    .collect(),
            })
        };
        let workers = vec![node("citus"), node("citus")];
        let coordinator = node("citus,bravo_metrics");
        for n in workers.iter().chain(std::iter::once(&coordinator)) {
            let mut admin = n.client("postgres");
            admin
                .batch_execute(&format!("CREATE DATABASE {db}"))
                .expect("create db");
            n.client(db)
                .batch_execute("CREATE EXTENSION citus")
                .expect("create extension citus");
        }
        let mut c = coordinator.client(db);
        c.execute(
            "SELECT citus_set_coordinator_host('127.0.0.1', $1)",
            &[&i32::from(coordinator.port)],
        )
        .expect("coordinator host");
        for w in &workers {
            c.execute(
                "SELECT citus_add_node('127.0.0.1', $1)",
                &[&i32::from(w.port)],
            )
            .expect("add worker");
        }
        CitusCluster {
            coordinator,
            workers,
        }
    }

    /// Database `db` (made by [`CitusCluster::start`]) with bravo_metrics, `media_buys`
    /// ids 1..=buys (campaign = id % campaigns + 1), pointed at a Snowflake endpoint on
    /// 127.0.0.1:port, then turned into the distributed layout with `shards` shards per
    /// table (`bravo_distribute`). The connection returned is the coordinator's.
    pub fn media_tool(
        &self,
        db: &str,
        port: u16,
        buys: i64,
        campaigns: i64,
        shards: i32,
    ) -> Client {
        let secret = self
            .coordinator
            .secret_file(&format!("{db}.secret"), "snow");
        let mut c = self.coordinator.client(db);
        c.batch_execute("CREATE EXTENSION bravo_metrics")
            .expect("create extension");
        c.execute(
            "INSERT INTO media_buys (id, campaign_id) SELECT g, g % $2::bigint + 1 FROM generate_series(1, $1::bigint) g",
            &[&buys, &campaigns],
        )
        .expect("media buys");
        c.query("SELECT * FROM bravo_distribute($1)", &[&shards])
            .expect("bravo_distribute");
        point_at(&mut c, db, port, &secret);
        drop(c);
        self.coordinator.client(db)
    }
}
