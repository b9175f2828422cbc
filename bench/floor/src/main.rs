//! `floor server <port>`: echoes every 3-byte message back, one connection at a time, until the
//! client disconnects. `floor client <port> <n> <warmup>`: sends one 3-byte message at a time and
//! prints the round trips of the last `n` (after `warmup`) as one JSON line of microseconds.
//! Both sides set TCP_NODELAY and block: the least a round trip between two processes costs here.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn main() -> std::io::Result<()> {
  let args: Vec<String> = std::env::args().collect();
  let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
  match args.get(1).map(String::as_str) {
    Some("server") => server(port),
    Some("client") => {
      let n = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(10_000);
      let warmup = args.get(4).and_then(|v| v.parse().ok()).unwrap_or(1_000);
      client(port, n, warmup)
    }
    _ => {
      eprintln!("usage: floor server <port> | floor client <port> <n> <warmup>");
      std::process::exit(2)
    }
  }
}

fn server(port: u16) -> std::io::Result<()> {
  let listener = TcpListener::bind(("127.0.0.1", port))?;
  println!("{{\"event\":\"ready\",\"port\":{}}}", listener.local_addr()?.port());
  let (mut s, _) = listener.accept()?;
  s.set_nodelay(true)?;
  let mut buf = [0u8; 3];
  while s.read_exact(&mut buf).is_ok() {
    s.write_all(&buf)?;
  }
  Ok(())
}

fn client(port: u16, n: usize, warmup: usize) -> std::io::Result<()> {
  let mut s = TcpStream::connect(("127.0.0.1", port))?;
  s.set_nodelay(true)?;
  let mut buf = [0u8; 3];
  let mut samples = Vec::with_capacity(n);
  for i in 0..(n + warmup) {
    let t = Instant::now();
    s.write_all(b"abc")?;
    s.read_exact(&mut buf)?;
    if i >= warmup {
      samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
  }
  let list: Vec<String> = samples.iter().map(|x| format!("{x:.1}")).collect();
  println!("{{\"event\":\"result\",\"samples\":[{}]}}", list.join(","));
  Ok(())
}
