//! Where each node speaks from. An original JavaScript node advertises its forwarder as
//! `tcp://0.0.0.0:PORT`; the host behind it is the UDP source of that node's *own* datagrams
//! (its heartbeats and candidate answers), never that of a datagram that merely names it (a
//! winner one node announces about another). Pure: the election layer feeds it sources.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::codec::{unspecified_port, NodeMeta};

/// Hosts remembered; beyond this the map starts over (a flood guard).
const MAX_HOSTS: usize = 1024;

/// Node id -> the host its own datagrams come from.
#[derive(Debug, Default)]
pub struct Addresses {
  hosts: HashMap<String, Ipv4Addr>,
}

impl Addresses {
  /// Records that node `id` sent a datagram about itself from `host`.
  pub fn learn(&mut self, id: &str, host: Ipv4Addr) {
    if host.is_unspecified() {
      return;
    }
    if self.hosts.len() >= MAX_HOSTS && !self.hosts.contains_key(id) {
      self.hosts.clear();
    }
    self.hosts.insert(id.to_owned(), host);
  }

  /// `meta` with `0.0.0.0` replaced by its node's host; `None` while that host is unknown.
  /// Metas with real addresses come back unchanged.
  pub fn resolve(&self, meta: &NodeMeta) -> Option<NodeMeta> {
    let host = self.hosts.get(&meta.id);
    let fix = |addr: &str| match unspecified_port(addr) {
      Some(port) => host.map(|h| format!("tcp://{h}:{port}")),
      None => Some(addr.to_owned()),
    };
    Some(NodeMeta {
      id: meta.id.clone(),
      sub_addr: fix(&meta.sub_addr)?,
      pub_addr: fix(&meta.pub_addr)?,
    })
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn meta(id: &str, sub: &str, publ: &str) -> NodeMeta {
    NodeMeta {
      id: id.into(),
      sub_addr: sub.into(),
      pub_addr: publ.into(),
    }
  }

  #[test]
  fn an_unspecified_address_takes_the_host_its_node_speaks_from() {
    let mut a = Addresses::default();
    let m = meta("9900000001", "tcp://0.0.0.0:4001", "tcp://0.0.0.0:4002");
    assert_eq!(
      a.resolve(&m),
      None,
      "unknown until the node itself is heard"
    );
    a.learn("9900000001", Ipv4Addr::new(10, 0, 0, 9));
    a.learn("9900000002", Ipv4Addr::new(10, 0, 0, 7));
    assert_eq!(
      a.resolve(&m),
      Some(meta(
        "9900000001",
        "tcp://10.0.0.9:4001",
        "tcp://10.0.0.9:4002"
      ))
    );
  }

  #[test]
  fn real_addresses_are_kept_as_they_are() {
    let a = Addresses::default();
    let m = meta("9900000001", "tcp://10.1.1.1:4001", "tcp://10.1.1.1:4002");
    assert_eq!(a.resolve(&m), Some(m.clone()));
  }
}
