//! The record kinds of the engines, handed to the JS facades once at load (`lib/kinds.js`,
//! `lib/socket.js`): declared in Rust only (`crate::record_kinds!`), so the two sides cannot drift.

use std::collections::HashMap;

use napi_derive::napi;

use crate::mdp::eventloop::kinds::MDP_KINDS;
use crate::sockets::SOCKET_KINDS;

/// Every engine's record kinds by engine (`mdp`, `sockets`), then by name (`E_FINAL`, `C_SEND`...).
#[napi]
pub fn record_kinds() -> HashMap<String, HashMap<String, u32>> {
  let table = |kinds: &[(&str, u8)]| {
    kinds
      .iter()
      .map(|&(name, value)| (name.to_string(), u32::from(value)))
      .collect()
  };
  HashMap::from([
    ("mdp".to_string(), table(MDP_KINDS)),
    ("sockets".to_string(), table(SOCKET_KINDS)),
  ])
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::collections::HashSet;

  /// Events (`E_*`) share one numbering and commands (every other prefix) another: within each, no two
  /// kinds may have the same number, or a record would be read as the wrong one.
  fn assert_distinct(kinds: &[(&str, u8)]) {
    let (mut events, mut commands) = (HashSet::new(), HashSet::new());
    for &(name, value) in kinds {
      let set = if name.starts_with("E_") {
        &mut events
      } else {
        &mut commands
      };
      assert!(set.insert(value), "{name} = {value} is taken twice");
    }
  }

  #[test]
  fn every_engine_numbers_its_events_and_its_commands_distinctly() {
    assert_distinct(MDP_KINDS);
    assert_distinct(SOCKET_KINDS);
    let all = record_kinds();
    assert_eq!(all["mdp"]["E_FINAL"], 11);
    assert_eq!(all["sockets"]["C_SEND_ACK"], 2);
    assert_eq!(all["mdp"].len(), MDP_KINDS.len());
  }
}
