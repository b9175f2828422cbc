//! The discovery socket: one UDP socket per node, bound to the cluster's
//! port with address reuse, joined to the multicast group on the chosen
//! interface (or set up for subnet broadcast), looping back our own datagrams.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket as StdUdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use super::options::NodeOptions;

/// A documentation address (TEST-NET-2): connecting a UDP socket to it only
/// asks the kernel for a route and sends nothing.
const ROUTE_PROBE: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 9);

/// The address to advertise for `iface`: itself, or for `0.0.0.0` the source
/// address of the host's route to the cluster's `group` (for subnet broadcast,
/// of its default route). A host with only a multicast route, or no default
/// route, still finds its interface this way.
///
/// # Errors
/// When `iface` is unspecified and the host has no IPv4 route to the group
/// (`NetworkUnreachable`, naming `multicast_interface`).
pub fn resolve_interface(iface: Ipv4Addr, group: Ipv4Addr) -> io::Result<Ipv4Addr> {
  if !iface.is_unspecified() {
    return Ok(iface);
  }
  // Connecting a UDP socket only looks the route up; nothing is sent.
  let target = if group.is_multicast() {
    SocketAddrV4::new(group, 9)
  } else {
    ROUTE_PROBE
  };
  let probe = StdUdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
  let no_route = || {
    io::Error::new(
      io::ErrorKind::NetworkUnreachable,
      format!(
        "this host has no IPv4 route to {}: set multicast_interface to the address of the interface to use",
        target.ip()
      ),
    )
  };
  probe.connect(target).map_err(|_| no_route())?;
  match probe.local_addr()? {
    SocketAddr::V4(a) if !a.ip().is_unspecified() => Ok(*a.ip()),
    _ => Err(no_route()),
  }
}

/// Opens the discovery socket on interface `iface` (already resolved) and
/// returns it with the destination of our datagrams.
///
/// # Errors
/// Socket errors, or broadcast asked on the loopback interface (loopback has
/// no broadcast, and falling back to the default route would leave the host).
pub fn open(opts: &NodeOptions, iface: Ipv4Addr) -> io::Result<(StdUdpSocket, SocketAddrV4)> {
  let group = opts.multicast_addr;
  let dest = SocketAddrV4::new(group, opts.multicast_port);
  let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
  socket.set_reuse_address(true)?;
  #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
  socket.set_reuse_port(true)?;
  socket.set_nonblocking(true)?;
  if group.is_broadcast() {
    if iface.is_loopback() {
      return Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "broadcast discovery is not possible on the loopback interface; use a multicast_addr",
      ));
    }
    socket.set_broadcast(true)?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, opts.multicast_port).into())?;
    return Ok((socket.into(), dest));
  }
  // On Unix, binding the group address filters out unicast sent to the port.
  let bind_ip = if cfg!(unix) {
    group
  } else {
    Ipv4Addr::UNSPECIFIED
  };
  socket.bind(&SocketAddrV4::new(bind_ip, opts.multicast_port).into())?;
  socket.join_multicast_v4(&group, &iface)?;
  // Sending on the chosen interface is what keeps a loopback cluster on the
  // host: never fall back to the default route.
  socket.set_multicast_if_v4(&iface)?;
  socket.set_multicast_loop_v4(true)?;
  if iface.is_loopback() {
    // TTL 0: the datagram cannot leave the host even if routing changes.
    socket.set_multicast_ttl_v4(0)?;
  }
  Ok((socket.into(), dest))
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::time::Duration;

  #[test]
  fn loopback_interface_resolves_to_itself() {
    let lo = Ipv4Addr::LOCALHOST;
    assert_eq!(
      resolve_interface(lo, Ipv4Addr::new(239, 1, 2, 3)).unwrap(),
      lo
    );
  }

  #[test]
  fn unspecified_interface_resolves_to_a_unicast_address_or_a_clear_error() {
    match resolve_interface(Ipv4Addr::UNSPECIFIED, Ipv4Addr::new(239, 1, 2, 3)) {
      Ok(ip) => assert!(!ip.is_unspecified() && !ip.is_multicast()),
      Err(e) => assert_eq!(e.kind(), io::ErrorKind::NetworkUnreachable, "{e}"),
    }
  }

  #[test]
  fn broadcast_on_loopback_is_refused() {
    let opts = NodeOptions {
      multicast_addr: Ipv4Addr::BROADCAST,
      multicast_interface: Ipv4Addr::LOCALHOST,
      ..NodeOptions::default()
    };
    let err = open(&opts, Ipv4Addr::LOCALHOST).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
  }

  #[test]
  fn two_sockets_on_one_port_both_receive_a_loopback_datagram() {
    let port = rand::Rng::gen_range(&mut rand::thread_rng(), 20_000..60_000);
    let opts = NodeOptions {
      multicast_addr: Ipv4Addr::new(239, 77, 3, 1),
      multicast_port: port,
      multicast_interface: Ipv4Addr::LOCALHOST,
      ..NodeOptions::default()
    };
    let (a, dest) = open(&opts, Ipv4Addr::LOCALHOST).unwrap();
    let (b, _) = open(&opts, Ipv4Addr::LOCALHOST).unwrap();
    for s in [&a, &b] {
      s.set_nonblocking(false).unwrap();
      s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    a.send_to(b"[\"elect\",\"start\"]", dest).unwrap();
    let mut buf = [0u8; 64];
    for s in [&a, &b] {
      let (n, _) = s.recv_from(&mut buf).unwrap();
      assert_eq!(&buf[..n], b"[\"elect\",\"start\"]");
    }
  }
}
