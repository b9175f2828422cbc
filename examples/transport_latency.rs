//! DEALER -> ROUTER echo over tcp loopback with one message in flight: p50/p99 round trip.
//! The router runs on its own runtime thread, as a broker in another process would.
//!
//! Run: `cargo run --release --example transport_latency`

use bytes::Bytes;
use std::time::{Duration, Instant};
use zmqbus::transport::{Dealer, Router};

fn main() {
  let (tx, rx) = std::sync::mpsc::channel();
  std::thread::spawn(move || {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
      .enable_all()
      .build()
    else {
      return;
    };
    rt.block_on(async move {
      let mut router = Router::new();
      let Ok(ep) = router.bind("tcp://127.0.0.1:*").await else {
        return;
      };
      let _ = tx.send(ep);
      while let Ok(m) = router.recv().await {
        let _ = router.send(m);
      }
    });
  });
  let Ok(ep) = rx.recv() else { return };
  let Ok(rt) = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
  else {
    return;
  };
  rt.block_on(async move {
    let Ok(mut dealer) = Dealer::connect(&ep, Some(Bytes::from_static(b"lat"))) else {
      return;
    };
    let mut samples = Vec::with_capacity(20_000);
    for i in 0..20_000 {
      let t = Instant::now();
      if dealer.send(vec![Bytes::from_static(b"abc")]).is_err() {
        return;
      }
      if tokio::time::timeout(Duration::from_secs(5), dealer.recv())
        .await
        .is_err()
      {
        eprintln!("stalled at {i}");
        return;
      }
      if i >= 1000 {
        samples.push(t.elapsed().as_micros() as u64);
      }
    }
    samples.sort_unstable();
    let p = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    println!(
      "one in flight: p50 {} µs, p99 {} µs, p999 {} µs",
      p(0.5),
      p(0.99),
      p(0.999)
    );
  });
}
