//! DEALER -> ROUTER echo over tcp loopback, 1000 in flight, 200k round trips; prints round trips/s.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-h cargo run --release --example transport_bench`

use std::time::{Duration, Instant};

use bytes::Bytes;
use zmqbus::transport::{Dealer, Router, TransportError};

const TOTAL: usize = 200_000;
const IN_FLIGHT: usize = 1000;

async fn echo(mut router: Router) {
  let mut dropped = 0u64;
  while let Ok(m) = router.recv().await {
    if let Err(TransportError::WouldBlock) = router.send(m) {
      dropped += 1;
    }
  }
  eprintln!("router dropped {dropped}");
}

async fn run() -> Result<(), TransportError> {
  let mut router = Router::new();
  let ep = router.bind("tcp://127.0.0.1:*").await?;
  let server = tokio::spawn(echo(router));
  let mut dealer = Dealer::connect(&ep, Some(Bytes::from_static(b"bench")))?;
  let payload = Bytes::from_static(b"abc");
  let (mut sent, mut received, mut owed) = (0usize, 0usize, IN_FLIGHT);
  let start = Instant::now();
  while received < TOTAL {
    // Top the window back up; a full local queue just means "try after the next reply".
    while owed > 0 && sent < TOTAL {
      match dealer.send(vec![payload.clone()]) {
        Ok(()) => {
          sent += 1;
          owed -= 1;
        }
        Err(TransportError::WouldBlock) => break,
        Err(e) => return Err(e),
      }
    }
    match tokio::time::timeout(Duration::from_secs(10), dealer.recv()).await {
      Ok(r) => {
        r?;
        received += 1;
        owed += 1;
      }
      Err(_) => {
        eprintln!("stalled at {received} received, {sent} sent");
        break;
      }
    }
  }
  let secs = start.elapsed().as_secs_f64();
  println!(
    "dealer->router echo over tcp, {IN_FLIGHT} in flight: {received} round trips in {secs:.3} s = {:.0} round trips/s",
    received as f64 / secs
  );
  server.abort();
  Ok(())
}

fn main() {
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build();
  match rt {
    Ok(rt) => {
      if let Err(e) = rt.block_on(run()) {
        eprintln!("bench failed: {e}");
      }
    }
    Err(e) => eprintln!("runtime: {e}"),
  }
}
