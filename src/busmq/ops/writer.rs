//! The command connection of a bus: one multiplexed connection to a Redis master, or a cluster
//! connection that routes each command (and each script, by its keys) to the node that owns
//! the key's slot. Both pipeline concurrent calls on the wire.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Where commands go.
#[derive(Clone)]
pub enum Writer {
  /// One master (`layout: 'direct'` or `'sentinels'`).
  Direct(MultiplexedConnection),
  /// A Redis Cluster (`layout: 'cluster'`).
  Cluster(ClusterConnection),
}

impl ConnectionLike for Writer {
  fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
    match self {
      Writer::Direct(c) => c.req_packed_command(cmd),
      Writer::Cluster(c) => c.req_packed_command(cmd),
    }
  }

  fn req_packed_commands<'a>(
    &'a mut self,
    pipeline: &'a Pipeline,
    offset: usize,
    count: usize,
  ) -> RedisFuture<'a, Vec<Value>> {
    match self {
      Writer::Direct(c) => c.req_packed_commands(pipeline, offset, count),
      Writer::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
    }
  }

  fn get_db(&self) -> i64 {
    match self {
      Writer::Direct(c) => c.get_db(),
      Writer::Cluster(c) => c.get_db(),
    }
  }
}
